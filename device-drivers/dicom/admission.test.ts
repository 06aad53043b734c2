/**
 * Allow-lists and the association limit: the pure admitter, then echoscu/storescu against the
 * service with `-aet`, reading DCMTK's own description of the A-ASSOCIATE-RJ it got.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { writeStudy } from "../../test/fixtures/make-dicom.ts";
import { createDicomService, type DicomService } from "../index.ts";
import { createAdmitter, normalizeAddress } from "./admission.ts";
import { makeTestSink, removeTestSink, runTool, type TestSink } from "./test-support.ts";

test("an empty list admits anyone; a listed AE only from its addresses; strangers only if allowed", () => {
  const open = createAdmitter({ devices: [], allowUnknown: true, maxAssociations: 4 });
  assert.equal(open.admit("ANYONE", "10.0.0.9").admitted, true);

  const devices = [{ aeTitle: "US1", hosts: ["192.168.1.0/24", "fd00::5"] }, { aeTitle: "DR1" }];
  const closed = createAdmitter({ devices, allowUnknown: false, maxAssociations: 4 });
  assert.equal(closed.admit("US1", "192.168.1.77").admitted, true);
  assert.equal(closed.admit(" US1 ", "::ffff:192.168.1.78").admitted, true, "padding, v4-mapped");
  assert.equal(closed.admit("US1", "fd00::5").admitted, true);
  assert.equal(closed.admit("DR1", "172.16.0.1").admitted, true, "no hosts = any address");
  const wrongAddress = closed.admit("US1", "192.168.2.1");
  assert.deepEqual(
    wrongAddress.admitted
      ? undefined
      : [wrongAddress.why, wrongAddress.result, wrongAddress.source, wrongAddress.reason],
    ["address-not-allowed", 1, 1, 3],
  );
  const stranger = closed.admit("us1", "192.168.1.77");
  assert.equal(stranger.admitted ? "" : stranger.why, "calling-ae-not-recognized", "case matters");

  const lenient = createAdmitter({ devices, allowUnknown: true, maxAssociations: 4 });
  assert.equal(lenient.admit("OTHER", "192.168.2.1").admitted, true);
  assert.equal(lenient.admit("US1", "192.168.2.1").admitted, false, "a known AE stays bound to its hosts");
});

test("the limit rejects transiently (2, 3, 2) and frees a slot on release", () => {
  const admitter = createAdmitter({ devices: [], allowUnknown: true, maxAssociations: 1 });
  const first = admitter.admit("A", "127.0.0.1");
  assert.ok(first.admitted);
  const second = admitter.admit("B", "127.0.0.1");
  assert.deepEqual(second.admitted ? undefined : [second.why, second.result, second.source, second.reason], [
    "too-many-associations",
    2,
    3,
    2,
  ]);
  first.release();
  first.release();
  assert.equal(admitter.open, 0);
  assert.equal(admitter.admit("B", "127.0.0.1").admitted, true);
});

test("bad host entries are refused when the policy is built", () => {
  for (const hosts of [["not-an-ip"], ["10.0.0.0/33"], ["10.0.0.0/8/1"], ["fd00::/129"]]) {
    assert.throws(() =>
      createAdmitter({ devices: [{ aeTitle: "X", hosts }], allowUnknown: false, maxAssociations: 1 }),
    );
  }
  assert.equal(normalizeAddress("::ffff:10.1.2.3"), "10.1.2.3");
});

let sink: TestSink;
let service: DicomService;
let port: number;

before(async () => {
  sink = await makeTestSink();
  service = createDicomService({
    aeTitle: "DXGATE",
    host: "127.0.0.1",
    port: 0,
    sink,
    log: silentLogger(),
    admission: {
      devices: [
        { aeTitle: "ULTRASOUND1", hosts: ["127.0.0.0/8"] },
        { aeTitle: "FARAWAY", hosts: ["192.0.2.10"] },
      ],
    },
  });
  ({ port } = await service.start());
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
});

test("echoscu: a listed AE passes; an unknown AE and a listed AE from the wrong address are rejected", async () => {
  const allowed = await runTool("echoscu", [
    "-aet",
    "ULTRASOUND1",
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(port),
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);

  for (const aet of ["STRANGER", "FARAWAY"]) {
    const rejected = await runTool("echoscu", ["-aet", aet, "-aec", "DXGATE", "127.0.0.1", String(port)]);
    assert.notEqual(rejected.code, 0, aet);
    const said = rejected.stderr + rejected.stdout;
    assert.match(said, /Rejected Permanent/i, said);
    assert.match(said, /Service User/i, said);
    assert.match(said, /Calling AE Title Not Recognized/i, said);
  }
});

test("storescu: the listed AE stores, a stranger stores nothing", async () => {
  const study = await writeStudy(join(sink.dir, "sent"), { instances: 1 });
  const paths = study.files.map((file) => file.path);
  const stranger = await runTool("storescu", [
    "-aet",
    "STRANGER",
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(port),
    ...paths,
  ]);
  assert.notEqual(stranger.code, 0);
  assert.equal(sink.received.length, 0);
  const allowed = await runTool("storescu", [
    "-aet",
    "ULTRASOUND1",
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(port),
    ...paths,
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(sink.received.length, 1);
});

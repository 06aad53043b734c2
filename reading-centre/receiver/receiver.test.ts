import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import mqtt from "mqtt";
import { encodeChunk, type ManifestAckMessage, upTopic } from "../../uploader/protocol/index.ts";
import { FakeBox, makeStudy } from "../testing/box.ts";
import { disposeRc, type RunningRc, startRc, waitUntil } from "../testing/harness.ts";

interface Summary {
  studyInstanceUid: string;
  siteId: string;
  instanceCount: number;
  patient: { key: string; id: string };
}

let rc: RunningRc;
let token: string;

before(async () => {
  rc = await startRc();
  token = await rc.login();
});
after(async () => disposeRc(rc));

async function worklistFor(studyInstanceUid: string): Promise<Summary[]> {
  const response = await rc.api("GET", "/api/worklist", { token });
  assert.equal(response.status, 200);
  return (response.json as Summary[]).filter((s) => s.studyInstanceUid === studyInstanceUid);
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  try {
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return n;
}

/** Wait until the receiver has written `n` staged files under `dir` (publishing only reaches the broker). */
async function waitForFiles(dir: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await countFiles(dir)) < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} files in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a study sent as manifest + chunks + commit is stored, listed and served byte for byte", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-a");
  try {
    const study = makeStudy({ sizes: [5000, 12000, 3000] });
    const ack = await box.sendStudy(study);
    assert.equal(ack.status, "ok");
    assert.deepEqual(ack.missing, []);
    assert.deepEqual(ack.stored.sort(), study.instances.map((i) => i.descriptor.sopInstanceUid).sort());

    const [entry] = await worklistFor(study.study.studyInstanceUid);
    assert.ok(entry);
    assert.equal(entry.siteId, "site-a");
    assert.equal(entry.instanceCount, 3);
    for (const instance of study.instances) {
      const response = await rc.api("GET", `/api/instances/${instance.descriptor.sopInstanceUid}`, { token });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/dicom");
      assert.ok(response.bytes.equals(instance.bytes));
    }
    // Staging is cleaned once the commit succeeded: no transfer record, no staged content.
    assert.deepEqual(await readdir(join(rc.dataDir, "staging", "site-a", "transfers")), []);
    assert.deepEqual(await readdir(join(rc.dataDir, "staging", "site-a", "content")), []);
  } finally {
    await box.end();
  }
});

test("the same study delivered twice is stored once", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-twice");
  try {
    const study = makeStudy({ sizes: [4000, 9000] });
    assert.equal((await box.sendStudy(study)).status, "ok");
    const filesBefore = await countFiles(join(rc.dataDir, "instances"));
    const second = await box.sendStudy(study);
    assert.equal(second.status, "ok");
    assert.equal(second.stored.length, 2);
    const entries = await worklistFor(study.study.studyInstanceUid);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.instanceCount, 2);
    assert.equal(await countFiles(join(rc.dataDir, "instances")), filesBefore);
  } finally {
    await box.end();
  }
});

test("a chunk corrupted on the way is refused, its instance missing, and a resend of just that chunk repairs it", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-corrupt");
  try {
    const study = makeStudy({ sizes: [6000, 7000, 8000] });
    const bad = study.instances[1]!;
    const ack = await box.sendStudy(study, { corrupt: bad.descriptor.sopInstanceUid });
    assert.equal(ack.status, "error");
    assert.equal(ack.error?.code, "INCOMPLETE");
    assert.deepEqual(ack.missing, [bad.descriptor.sopInstanceUid]);
    assert.equal(ack.stored.length, 2);
    // Part-stored: not on the worklist until complete.
    assert.deepEqual(await worklistFor(study.study.studyInstanceUid), []);
    assert.ok(
      rc.logs.find("malformed message dropped", { kind: "chunk", code: "PROTO_CHUNK_CORRUPT" }).length >= 1,
    );

    const resend = await box.sendStudy(study);
    assert.equal(resend.status, "ok");
    // The county listed everything but the refused chunk as held, so only that one went again.
    const manifestAck = box.received.findLast((r) => r.kind === "manifest-ack")!
      .message as ManifestAckMessage;
    assert.equal(manifestAck.transferId, resend.transferId);
    assert.deepEqual(manifestAck.held, [
      [0, 0, 6000],
      [1, 4096, 7000],
      [2, 0, 8000],
    ]);
    assert.deepEqual(
      box.sent
        .filter((c) => c.transferId === resend.transferId)
        .map((c) => [c.sopInstanceUid, c.offset, c.length]),
      [[bad.descriptor.sopInstanceUid, 0, 4096]],
    );
    assert.equal((await worklistFor(study.study.studyInstanceUid))[0]?.instanceCount, 3);
    const response = await rc.api("GET", `/api/instances/${bad.descriptor.sopInstanceUid}`, { token });
    assert.ok(response.bytes.equals(bad.bytes));
  } finally {
    await box.end();
  }
});

test("a resent instance with different content replaces the stored one", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-replace");
  try {
    const study = makeStudy({ sizes: [3000] });
    assert.equal((await box.sendStudy(study)).status, "ok");
    const corrected = makeStudy({ studyInstanceUid: study.study.studyInstanceUid, sizes: [3500] });
    corrected.instances[0]!.descriptor.sopInstanceUid = study.instances[0]!.descriptor.sopInstanceUid;
    assert.equal((await box.sendStudy(corrected)).status, "ok");
    const sop = study.instances[0]!.descriptor.sopInstanceUid;
    const response = await rc.api("GET", `/api/instances/${sop}`, { token });
    assert.ok(response.bytes.equals(corrected.instances[0]!.bytes));
    assert.equal((await worklistFor(study.study.studyInstanceUid))[0]?.instanceCount, 1);
    assert.equal(
      rc.logs.find("stored instance replaced by a resent version with different content").length,
      1,
    );
  } finally {
    await box.end();
  }
});

test("malformed or unknown messages are dropped without harm", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-bad");
  try {
    await box.publish("manifest", "{not json");
    await box.publish("chunk", Buffer.from("XXXX this is no chunk"));
    // A forged header: valid prefix, header length pointing past the end of the payload.
    const forged = Buffer.alloc(16);
    forged.write("DXC1", 0, "ascii");
    forged.writeUInt32BE(5000, 4);
    await box.publish("chunk", forged);
    await box.publish(
      "chunk",
      encodeChunk({ transferId: "nope", sopInstanceUid: "1.2.3", offset: 0 }, Buffer.from("data")),
    );
    await box.publish("status", "[]");
    const unknown = await box.sendCommit(makeStudy({ sizes: [100] }), "never-announced");
    assert.equal(unknown.status, "error");
    assert.equal(unknown.error?.code, "UNKNOWN_TRANSFER");
    assert.deepEqual(unknown.stored, []);
    assert.deepEqual(unknown.missing, []);

    const codes = rc.logs.find("malformed message dropped").map((l) => l.code);
    assert.ok(codes.includes("PROTO_BAD_JSON"));
    assert.ok(codes.includes("PROTO_BAD_CHUNK"));
    assert.ok(codes.includes("PROTO_INVALID"));
    assert.equal(rc.logs.find("chunk dropped", { code: "UNKNOWN_TRANSFER" }).length, 1);

    // A chunk beyond its instance's size is dropped and the instance reported missing.
    const study = makeStudy({ sizes: [2000] });
    const sop = study.instances[0]!.descriptor.sopInstanceUid;
    await box.sendManifest(study, "t-range");
    await box.publish(
      "chunk",
      encodeChunk({ transferId: "t-range", sopInstanceUid: sop, offset: 1999 }, Buffer.alloc(2)),
    );
    await box.sendChunks(study, "t-range");
    assert.equal((await box.sendCommit(study, "t-range")).status, "ok");
    assert.equal(rc.logs.find("chunk dropped", { code: "OUT_OF_RANGE" }).length, 1);
  } finally {
    await box.end();
  }
});

test("an oversized publish closes that connection only; the reading centre keeps working", async () => {
  const credentials = await rc.addBox("rogue");
  const rogue = await mqtt.connectAsync(`mqtt://127.0.0.1:${rc.mqttPort}`, {
    protocolVersion: 4,
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0,
  });
  const closed = new Promise<void>((resolve) => rogue.once("close", () => resolve()));
  rogue.publish(upTopic({ countyId: "county", siteId: "rogue" }, "chunk"), Buffer.alloc(1200 * 1024), {
    qos: 1,
  });
  await closed;
  await rogue.endAsync(true);
  assert.ok(
    rc.logs.find("mqtt connection closed: bad packet size", { code: "MQTT_PACKET_TOO_LARGE" }).length >= 1,
  );

  const box = await FakeBox.connect(rc.mqttPort, "site-after");
  try {
    assert.equal((await box.sendStudy(makeStudy({ sizes: [1000] }))).status, "ok");
  } finally {
    await box.end();
  }
});

test("two sites with the same patient id and study UID are two studies and two patients", async () => {
  const boxA = await FakeBox.connect(rc.mqttPort, "site-x");
  const boxB = await FakeBox.connect(rc.mqttPort, "site-y");
  try {
    const studyA = makeStudy({ patientId: "10023", sizes: [1500] });
    const studyB = makeStudy({
      studyInstanceUid: studyA.study.studyInstanceUid,
      patientId: "10023",
      sizes: [1600],
    });
    assert.equal((await boxA.sendStudy(studyA)).status, "ok");
    assert.equal((await boxB.sendStudy(studyB)).status, "ok");
    const entries = await worklistFor(studyA.study.studyInstanceUid);
    assert.equal(entries.length, 2);
    assert.deepEqual(entries.map((e) => e.patient.key).sort(), ["site-x/10023", "site-y/10023"]);

    const uid = studyA.study.studyInstanceUid;
    assert.equal((await rc.api("GET", `/api/studies/${uid}`, { token })).status, 409);
    const one = await rc.api("GET", `/api/studies/${uid}?siteId=site-y`, { token });
    assert.equal(one.status, 200);
    assert.equal((one.json as Summary).siteId, "site-y");
  } finally {
    await Promise.all([boxA.end(), boxB.end()]);
  }
});

test("a transfer survives a reading-centre restart between its manifest and its commit", async () => {
  const first = await startRc();
  const study = makeStudy({ sizes: [9000, 9000] });
  const box1 = await FakeBox.connect(first.mqttPort, "site-restart");
  await box1.sendManifest(study, "t-restart");
  await box1.sendChunks(study, "t-restart", { only: (_sop, offset) => offset === 0 });
  await waitUntil(() => first.logs.find("transfer started").length === 1);
  const content = join(first.dataDir, "staging", "site-restart", "content");
  await waitForFiles(content, 2);
  await box1.end();
  await first.stop();

  const second = await startRc({ dataDir: first.dataDir });
  const box2 = await FakeBox.connect(second.mqttPort, "site-restart");
  try {
    assert.equal(second.logs.find("staging loaded")[0]?.transfers, 1);
    await box2.sendChunks(study, "t-restart", { only: (_sop, offset) => offset !== 0 });
    const ack = await box2.sendCommit(study, "t-restart");
    assert.equal(ack.status, "ok");
    assert.equal(ack.stored.length, 2);
  } finally {
    await box2.end();
    await disposeRc(second);
  }
});

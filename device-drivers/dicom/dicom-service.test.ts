/**
 * The DICOM service against real DCMTK peers (echoscu, storescu, dcmdump, dcmcjpeg, dcmconv) on
 * port 0, with a sink that really writes and fsyncs.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { makeDicomFile, writeStudy } from "../../test/fixtures/make-dicom.ts";
import { createDicomService, type DicomService } from "../index.ts";
import { IMPLEMENTATION_CLASS_UID } from "./constants.ts";
import {
  datasetBytesOf,
  makeTestSink,
  removeTestSink,
  runTool,
  stagingLeftovers,
  type TestSink,
} from "./test-support.ts";

let sink: TestSink;
let service: DicomService;
let port: number;

before(async () => {
  sink = await makeTestSink();
  service = createDicomService({ aeTitle: "DXGATE", host: "127.0.0.1", port: 0, sink, log: silentLogger() });
  ({ port } = await service.start());
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
});

test("echoscu gets a successful C-ECHO", async () => {
  const result = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(port)]);
  assert.equal(result.code, 0, result.stderr);
});

test("storescu stores a study; each stored dataset is byte-identical to the sent one", async () => {
  const study = await writeStudy(join(sink.dir, "sent-explicit"), {
    instances: 3,
    patientName: "Doe^John",
    patientId: "P-1234",
    patientSex: "M",
    patientBirthDate: "19800102",
    patientAge: "044Y",
    accessionNumber: "ACC-9",
    studyDescription: "Abdomen",
    rows: 64,
    columns: 48,
    bitsAllocated: 16,
  });
  const sent = await Promise.all(study.files.map((file) => inWireForm(file.path)));
  const result = await runTool("storescu", [
    "-aec",
    "DXGATE",
    "-aet",
    "ULTRASOUND1",
    "127.0.0.1",
    String(port),
    ...sent,
  ]);
  assert.equal(result.code, 0, result.stderr);

  for (const [index, file] of study.files.entries()) {
    const storedPath = sink.storedPaths.get(file.sopInstanceUid);
    assert.ok(storedPath, `instance ${file.sopInstanceUid} stored`);
    assert.deepEqual(await datasetBytesOf(storedPath), await datasetBytesOf(sent[index] ?? ""));
    const dump = await runTool("dcmdump", ["+L", storedPath]);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /\(0002,0001\) OB 00\\01/);
    assert.match(dump.stdout, new RegExp(`\\(0002,0003\\) UI \\[${file.sopInstanceUid}\\]`));
    assert.match(dump.stdout, /\(0002,0010\) UI =LittleEndianExplicit/);
    assert.match(dump.stdout, new RegExp(`\\(0002,0012\\) UI \\[${IMPLEMENTATION_CLASS_UID}\\]`));
    assert.match(dump.stdout, /\(0002,0013\) SH \[DXGATE_010\]/);
    assert.match(dump.stdout, /\(0002,0016\) AE \[ULTRASOUND1\]/);
  }
  const first = sink.received.find(
    (instance) => instance.attributes.sopInstanceUid === study.files[0]?.sopInstanceUid,
  );
  assert.deepEqual(first?.attributes, {
    studyInstanceUid: study.studyInstanceUid,
    seriesInstanceUid: study.seriesInstanceUid,
    sopInstanceUid: study.files[0]?.sopInstanceUid,
    sopClassUid: "1.2.840.10008.5.1.4.1.1.6.1",
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    modality: "US",
    patientId: "P-1234",
    patientName: "Doe^John",
    patientSex: "M",
    patientBirthDate: "19800102",
    patientAge: "044Y",
    studyDate: "20240115",
    studyTime: "093000",
    studyDescription: "Abdomen",
    accessionNumber: "ACC-9",
  });
  assert.deepEqual(first?.source, {
    kind: "dicom",
    callingAeTitle: "ULTRASOUND1",
    calledAeTitle: "DXGATE",
    remoteAddress: "127.0.0.1",
  });
  assert.deepEqual(await stagingLeftovers(sink), []);
});

test("implicit VR little endian is accepted and stored as sent", async () => {
  const study = await writeStudy(join(sink.dir, "sent-implicit"), {
    instances: 1,
    transferSyntax: "implicit",
  });
  const file = study.files[0];
  assert.ok(file);
  const sent = await inWireForm(file.path);
  // -xi: propose Implicit VR Little Endian only, so the dataset travels in the file's encoding.
  const result = await runTool("storescu", ["-xi", "-aec", "DXGATE", "127.0.0.1", String(port), sent]);
  assert.equal(result.code, 0, result.stderr);
  const storedPath = sink.storedPaths.get(file.sopInstanceUid);
  assert.ok(storedPath);
  assert.deepEqual(await datasetBytesOf(storedPath), await datasetBytesOf(sent));
  const stored = sink.received.find((instance) => instance.attributes.sopInstanceUid === file.sopInstanceUid);
  assert.equal(stored?.attributes.transferSyntaxUid, "1.2.840.10008.1.2");
});

test("compressed (JPEG lossless) and deflated datasets are stored as received, never transcoded", async () => {
  for (const [tool, args, propose, transferSyntaxUid] of [
    ["dcmcjpeg", ["+e1", "+e"], "-xs", "1.2.840.10008.1.2.4.70"],
    ["dcmconv", ["+td", "+e"], "-xd", "1.2.840.10008.1.2.1.99"],
  ] as const) {
    const source = makeDicomFile({ rows: 32, columns: 32 });
    const sopInstanceUid = source.sopInstanceUid;
    const uncompressed = join(sink.dir, `${tool}-source.dcm`);
    const converted = join(sink.dir, `${tool}.dcm`);
    await writeFile(uncompressed, source.bytes);
    const conversion = await runTool(tool, [...args, uncompressed, converted]);
    assert.equal(conversion.code, 0, conversion.stderr);
    // -xs/-xd: the file's syntax in a context of its own, besides uncompressed ones (DCMTK's default
    // of one context per transfer syntax): we accept it as is, so storescu sends the file unchanged.
    const result = await runTool("storescu", [
      propose,
      "-R",
      "-aec",
      "DXGATE",
      "127.0.0.1",
      String(port),
      converted,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const storedPath = sink.storedPaths.get(sopInstanceUid);
    assert.ok(storedPath, `${tool} variant stored`);
    const received = await datasetBytesOf(storedPath);
    const sent = await datasetBytesOf(converted);
    // DCMTK pads an odd-length deflate stream with one NUL on the wire (PDVs carry even lengths);
    // what we store is what arrived, pad included.
    const padding = tool === "dcmconv" && sent.length % 2 === 1 ? Buffer.of(0) : Buffer.alloc(0);
    assert.deepEqual(received, Buffer.concat([sent, padding]));
    const stored = sink.received.find((instance) => instance.attributes.sopInstanceUid === sopInstanceUid);
    assert.equal(stored?.attributes.transferSyntaxUid, transferSyntaxUid);
    assert.equal(stored?.attributes.modality, "US");
    const dump = await runTool("dcmdump", [storedPath]);
    assert.equal(dump.code, 0, dump.stderr);
  }
});

/**
 * DCMTK re-encodes sequences with explicit lengths when it sends (dcmjs writes undefined lengths):
 * convert the file to that form first, so its dataset is byte for byte what goes on the wire.
 */
async function inWireForm(path: string): Promise<string> {
  const converted = `${path}.wire.dcm`;
  const result = await runTool("dcmconv", ["+e", path, converted]);
  assert.equal(result.code, 0, result.stderr);
  return converted;
}

test("a wrong called AE title is rejected at association", async () => {
  const file = (await writeStudy(join(sink.dir, "sent-wrong-ae"))).files[0];
  assert.ok(file);
  const before = sink.received.length;
  const result = await runTool("storescu", ["-aec", "NOT_DXGATE", "127.0.0.1", String(port), file.path]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Called AE Title Not Recognized/i);
  assert.equal(sink.received.length, before);
  const echo = await runTool("echoscu", ["-aec", "OTHER", "127.0.0.1", String(port)]);
  assert.notEqual(echo.code, 0);
});

/** Connect, send `bytes`, and resolve once the server closes the connection (or fail after 3 s). */
function serverClosesAfter(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server kept the connection open")), 3_000);
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.on("error", () => undefined); // a reset is a close too
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

test("garbage, oversized PDUs and abrupt disconnects leave the service answering", async () => {
  await serverClosesAfter(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: dxgate\r\n\r\n"));
  // An A-ASSOCIATE-RQ announcing ~4 GiB: cut at once instead of buffered until a timeout.
  await serverClosesAfter(Uint8Array.of(0x01, 0x00, 0xff, 0xff, 0xff, 0xf0, 0x00, 0x01));
  await new Promise<void>((resolve, reject) => {
    // A client promises a PDU it never finishes sending, then vanishes with a reset.
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(Uint8Array.of(0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01));
      setTimeout(() => {
        socket.resetAndDestroy();
        resolve();
      }, 20);
    });
    socket.on("error", reject);
  });
  const result = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(port)]);
  assert.equal(result.code, 0, result.stderr);
});

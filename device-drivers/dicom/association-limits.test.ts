/**
 * Slow-loris and resource bounds, over raw sockets speaking just enough PS3.8: an idle association
 * and one trickling a PDU byte by byte are aborted (A-ABORT, then close); beyond the association
 * limit the A-ASSOCIATE-RJ is rejected-transient / service-provider (presentation) /
 * local-limit-exceeded; echoscu is served afterwards.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { createDicomService, type DicomService } from "../index.ts";
import { makeTestSink, removeTestSink, runTool, type TestSink } from "./test-support.ts";

/** PS3.8 9.3.2: an A-ASSOCIATE-RQ proposing Verification in Implicit VR Little Endian. */
function associateRq(calling: string, called: string): Buffer {
  const item = (type: number, body: Buffer) => {
    const header = Buffer.alloc(4);
    header.writeUInt8(type, 0);
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  };
  const uid = (type: number, text: string) => item(type, Buffer.from(text, "ascii"));
  const pcHeader = Buffer.from([1, 0, 0, 0]); // context id 1, reserved
  const presentation = item(
    0x20,
    Buffer.concat([pcHeader, uid(0x30, "1.2.840.10008.1.1"), uid(0x40, "1.2.840.10008.1.2")]),
  );
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(16384);
  const userInfo = item(0x50, item(0x51, maxLength));
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  fixed.write(called.padEnd(16), 4, "ascii");
  fixed.write(calling.padEnd(16), 20, "ascii");
  const body = Buffer.concat([fixed, uid(0x10, "1.2.840.10008.3.1.1.1"), presentation, userInfo]);
  const header = Buffer.alloc(6);
  header.writeUInt8(0x01, 0);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

interface RawPeer {
  socket: Socket;
  /** Every byte received so far. */
  received(): Buffer;
  closed: Promise<number>;
}

function rawPeer(port: number): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const started = Date.now();
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => undefined);
    const closed = new Promise<number>((done) => socket.on("close", () => done(Date.now() - started)));
    socket.once("connect", () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
    socket.once("error", reject);
  });
}

async function firstPdu(peer: RawPeer, timeoutMs = 3_000): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bytes = peer.received();
    if (bytes.length >= 6 && bytes.length >= 6 + bytes.readUInt32BE(2)) return bytes;
    if (Date.now() > deadline) throw new Error("no PDU received");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function associate(port: number): Promise<RawPeer> {
  const peer = await rawPeer(port);
  peer.socket.write(associateRq("RAWPEER", "DXGATE"));
  const pdu = await firstPdu(peer);
  assert.equal(pdu[0], 0x02, "A-ASSOCIATE-AC");
  return peer;
}

const IDLE_MS = 400;
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
    idleTimeoutMs: IDLE_MS,
  });
  ({ port } = await service.start());
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
});

/** The A-ABORT PDU (PS3.8 9.3.8) that follows the A-ASSOCIATE-AC, if any. */
function abortAfterAccept(bytes: Buffer): Buffer | undefined {
  const rest = bytes.subarray(6 + bytes.readUInt32BE(2));
  return rest[0] === 0x07 ? rest : undefined;
}

test("an association that sends nothing after A-ASSOCIATE-AC is aborted after the idle timeout", async () => {
  const peer = await associate(port);
  const lifetime = await peer.closed;
  assert.ok(lifetime >= IDLE_MS && lifetime < IDLE_MS + 2_000, `closed after ${lifetime} ms`);
  const abort = abortAfterAccept(peer.received());
  assert.ok(abort, "an A-ABORT was sent before closing");
  assert.equal(abort[8], 2, "source: UL service-provider");
});

test("a PDU trickled byte by byte is aborted although bytes keep coming", async () => {
  const peer = await associate(port);
  // A P-DATA-TF announcing 100 bytes, sent one byte every 50 ms (each gap far below the timeout).
  const pdu = Buffer.alloc(106);
  pdu.writeUInt8(0x04, 0);
  pdu.writeUInt32BE(100, 2);
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < pdu.length && !peer.socket.destroyed) peer.socket.write(pdu.subarray(sent, ++sent));
  }, 50);
  const lifetime = await peer.closed;
  clearInterval(trickle);
  assert.ok(sent < pdu.length, "cut off before the PDU was complete");
  assert.ok(lifetime < IDLE_MS + 2_000, `closed after ${lifetime} ms`);
  assert.ok(abortAfterAccept(peer.received()), "an A-ABORT was sent");
});

test("beyond maxAssociations the request is rejected transiently; a freed slot is reused", async () => {
  // Its own service, with an idle timeout long enough that the two holders stay associated.
  const limited = createDicomService({
    host: "127.0.0.1",
    port: 0,
    sink,
    log: silentLogger(),
    admission: { maxAssociations: 2 },
  });
  const { port: limitedPort } = await limited.start();
  after(() => limited.stop());
  const first = await associate(limitedPort);
  const second = await associate(limitedPort);
  const third = await rawPeer(limitedPort);
  third.socket.write(associateRq("RAWPEER", "DXGATE"));
  const reject = await firstPdu(third);
  assert.equal(reject[0], 0x03, "A-ASSOCIATE-RJ");
  assert.deepEqual([reject[7], reject[8], reject[9]], [2, 3, 2], "transient, provider (presentation), limit");
  third.socket.destroy();
  first.socket.destroy();
  second.socket.destroy();
  await Promise.all([first.closed, second.closed, third.closed]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const echo = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(limitedPort)]);
  assert.equal(echo.code, 0, echo.stderr);
});

test("a second A-ASSOCIATE-RQ on one connection is aborted and takes no second slot", async () => {
  // Before the fix the second request was admitted again and overwrote the first slot's release:
  // one slot leaked per such connection (dicom-fuzz.test.ts, "PDU 1 (A-ASSOCIATE-RQ) duplicated").
  const limited = createDicomService({
    host: "127.0.0.1",
    port: 0,
    sink,
    log: silentLogger(),
    admission: { maxAssociations: 2 },
  });
  const { port: limitedPort } = await limited.start();
  after(() => limited.stop());
  for (let round = 0; round < 2; round += 1) {
    const twice = await associate(limitedPort);
    twice.socket.write(associateRq("RAWPEER", "DXGATE"));
    await twice.closed;
    const abort = abortAfterAccept(twice.received());
    assert.ok(abort, "an A-ABORT answered the second A-ASSOCIATE-RQ");
    assert.deepEqual([abort[8], abort[9]], [2, 2], "source: UL service-provider, reason: unexpected PDU");
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Both slots are free again: two associations at once are accepted.
  const first = await associate(limitedPort);
  const second = await associate(limitedPort);
  first.socket.destroy();
  second.socket.destroy();
  await Promise.all([first.closed, second.closed]);
});

test("after all that, echoscu is still served", async () => {
  const echo = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(port)]);
  assert.equal(echo.code, 0, echo.stderr);
});

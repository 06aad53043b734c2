import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeChunk, encodeChunk, ProtocolError } from "./codec.ts";

const header = { transferId: "t-1", sopInstanceUid: "1.2.3.4", offset: 4096 };

test("a chunk carries its data's SHA-256 and decodes to the same bytes", () => {
  const data = Buffer.from("DICM and some pixel data");
  const chunk = decodeChunk(encodeChunk(header, data));
  assert.deepEqual(chunk.data, data);
  assert.equal(chunk.offset, 4096);
  assert.match(chunk.sha256 ?? "", /^[0-9a-f]{64}$/);
});

test("a chunk whose data was altered in transit is refused as corrupt", () => {
  const payload = encodeChunk(header, Buffer.alloc(1000, 7));
  payload.writeUInt8(payload.readUInt8(payload.length - 1) ^ 1, payload.length - 1);
  assert.throws(
    () => decodeChunk(payload),
    (error: unknown) => error instanceof ProtocolError && error.code === "PROTO_CHUNK_CORRUPT",
  );
});

test("a chunk without a hash (an older box) still decodes; a malformed hash does not", () => {
  const data = Buffer.alloc(10, 1);
  const json = (h: object) => Buffer.from(JSON.stringify(h));
  const frame = (h: object) => {
    const body = json(h);
    const prefix = Buffer.alloc(8);
    prefix.write("DXC1", 0, "ascii");
    prefix.writeUInt32BE(body.length, 4);
    return Buffer.concat([prefix, body, data]);
  };
  assert.equal(decodeChunk(frame(header)).sha256, undefined);
  assert.throws(() => decodeChunk(frame({ ...header, sha256: "XYZ" })), /invalid/);
});

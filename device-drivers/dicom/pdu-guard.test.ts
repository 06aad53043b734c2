import assert from "node:assert/strict";
import { test } from "node:test";
import { PduGuard } from "./pdu-guard.ts";

/** A PDU header (PS3.8 9.3.1) followed by `length` zero bytes. */
function pdu(type: number, length: number): Uint8Array {
  const bytes = new Uint8Array(6 + length);
  bytes[0] = type;
  new DataView(bytes.buffer).setUint32(2, length, false);
  return bytes;
}

test("well-framed PDUs pass, however the stream is chunked", () => {
  const stream = Buffer.concat([pdu(1, 300), pdu(4, 16_384), pdu(4, 10), pdu(5, 4)]);
  for (const size of [1, 5, 7, 4096, stream.length]) {
    const guard = new PduGuard(16_384);
    for (let at = 0; at < stream.length; at += size) {
      assert.equal(guard.accept(stream.subarray(at, at + size)), undefined, `chunks of ${size}`);
    }
  }
});

test("an oversized P-DATA-TF or association PDU is refused", () => {
  assert.match(
    String(new PduGuard(16_384).accept(pdu(4, 100_000).subarray(0, 6))),
    /P?DU type 4 announces 100000/,
  );
  assert.match(String(new PduGuard(16_384).accept(Uint8Array.of(1, 0, 0xff, 0xff, 0xff, 0xf0))), /limit/);
});

test("an unknown PDU type is refused", () => {
  assert.match(
    String(new PduGuard(16_384).accept(new TextEncoder().encode("GET / HTTP/1.1\r\n"))),
    /unknown PDU type 0x47/,
  );
});

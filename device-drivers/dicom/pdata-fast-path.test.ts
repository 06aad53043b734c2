import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { PDataFastPath } from "./pdata-fast-path.ts";

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** PS3.8 9.3.5.1: item length, presentation context ID, message control header, value. */
function pdv(contextId: number, control: number, value: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt32BE(value.length + 2, 0);
  header[4] = contextId;
  header[5] = control;
  return Buffer.concat([header, value]);
}

/** `open(n)`: whether a store stream is open once `n` PDUs were forwarded to dcmjs-dimse. */
function harness(open: (forwardedPdus: number) => boolean) {
  const written: Buffer[] = [];
  const forwarded: Buffer[] = [];
  let bypassedBytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(Buffer.from(chunk));
      callback();
    },
  });
  const path = new PDataFastPath({
    storeStream: () => (open(forwarded.length) ? stream : undefined),
    hasContext: (id) => id === 1,
    forward: (bytes) => forwarded.push(Buffer.from(bytes)),
    bypassed: (bytes) => {
      bypassedBytes += bytes;
    },
  });
  return { path, written, forwarded, bypassed: () => bypassedBytes };
}

/** Feed `bytes` in chunks of the given sizes (cycled), as a socket would deliver them. */
function feed(path: PDataFastPath, bytes: Buffer, sizes: number[]): void {
  let at = 0;
  for (let i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    path.accept(bytes.subarray(at, at + size));
    at += size;
  }
}

test("middle dataset fragments go to the store stream; everything else reaches dcmjs-dimse whole", () => {
  const associate = pdu(0x01, Buffer.from("association request body"));
  const command = pdu(0x04, pdv(1, 0x03, Buffer.from("command")));
  const first = pdu(0x04, pdv(1, 0x00, Buffer.alloc(300, 1)));
  const middle = pdu(
    0x04,
    Buffer.concat([pdv(1, 0x00, Buffer.alloc(500, 2)), pdv(1, 0x00, Buffer.alloc(7, 3))]),
  );
  const last = pdu(0x04, pdv(1, 0x02, Buffer.alloc(40, 4)));
  const release = pdu(0x05, Buffer.alloc(4));
  const stream = Buffer.concat([associate, command, first, middle, last, release]);
  for (const sizes of [[stream.length], [1], [7, 64, 3], [1000, 5]]) {
    // The store stream is open from the first fragment (dcmjs-dimse creates it) until the last.
    const h = harness((pdus) => pdus >= 3);
    feed(h.path, stream, sizes);
    assert.deepEqual(h.forwarded, [associate, command, first, last, release], `chunks ${sizes}`);
    assert.deepEqual(Buffer.concat(h.written), Buffer.concat([Buffer.alloc(500, 2), Buffer.alloc(7, 3)]));
    assert.equal(h.bypassed(), middle.length);
  }
});

test("a P-DATA-TF goes to dcmjs-dimse when no store stream is open, or a PDV is odd", () => {
  const h = harness(() => true);
  const cases = [
    pdu(0x04, pdv(1, 0x01, Buffer.from("command fragment"))),
    pdu(0x04, Buffer.concat([pdv(1, 0x00, Buffer.alloc(10)), pdv(1, 0x02, Buffer.alloc(10))])),
    pdu(0x04, pdv(9, 0x00, Buffer.alloc(10))), // unknown presentation context
    pdu(0x04, Buffer.from([0, 0, 0, 50, 1, 0, 1, 2])), // PDV longer than its PDU
    pdu(0x04, Buffer.from([0, 0, 0])), // truncated PDV header
  ];
  for (const bytes of cases) h.path.accept(bytes);
  assert.deepEqual(h.forwarded, cases);
  assert.equal(h.written.length, 0);

  const closed = harness(() => false);
  const middle = pdu(0x04, pdv(1, 0x00, Buffer.alloc(10)));
  closed.path.accept(middle);
  assert.deepEqual(closed.forwarded, [middle]);
});

test("after an unknown PDU type every byte is forwarded as received", () => {
  const h = harness(() => true);
  const good = pdu(0x05, Buffer.alloc(4));
  const garbage = Buffer.from([0x09, 0, 0, 0, 0, 2, 0xaa, 0xbb, 0x04, 0x00]);
  feed(h.path, Buffer.concat([good, garbage, good]), [3]);
  assert.deepEqual(Buffer.concat(h.forwarded), Buffer.concat([good, garbage, good]));
  assert.deepEqual(h.forwarded[0], good);
});

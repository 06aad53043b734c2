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

/**
 * A stand-in for dcmjs-dimse's 'data' listener, as far as datasets go: after a command it opens a
 * store stream at the dataset's first fragment (when `storing`), writes every PDV value it is handed
 * (to the store stream, or to its in-memory buffer for other datasets), and ends at the last one.
 */
function harness(storing = true) {
  const dataset: Buffer[] = [];
  const inMemory: Buffer[] = [];
  const forwarded: Buffer[] = [];
  let bypassedBytes = 0;
  let stream: Writable | undefined;
  const forward = (bytes: Buffer) => {
    forwarded.push(Buffer.from(bytes));
    if (bytes[0] !== 0x04) return;
    for (let at = 6; at + 6 <= bytes.length; ) {
      const length = bytes.readUInt32BE(at);
      const control = bytes[at + 5]!;
      const value = bytes.subarray(at + 6, at + 4 + length);
      at += 4 + length;
      if (control & 0x01) continue; // a command: nothing to keep here
      if (storing && !stream) {
        stream = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            dataset.push(Buffer.from(chunk));
            callback();
          },
        });
      }
      if (stream) stream.write(value);
      else inMemory.push(Buffer.from(value));
      if (control & 0x02 && stream) {
        stream.end();
        stream = undefined;
      }
    }
  };
  const path = new PDataFastPath({
    storeStream: () => stream,
    hasContext: (id) => id === 1,
    forward,
    bypassed: (bytes) => {
      bypassedBytes += bytes;
    },
  });
  return { path, dataset, inMemory, forwarded, bypassed: () => bypassedBytes };
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

/** The one-empty-PDV P-DATA-TF the fast path hands dcmjs-dimse in place of a dataset's first or last PDU. */
function emptyFragment(control: number): Buffer {
  return pdu(0x04, pdv(1, control, Buffer.alloc(0)));
}

test("a C-STORE dataset's bytes go to the store stream in order; dcmjs-dimse sees only empty first and last fragments", async () => {
  const associate = pdu(0x01, Buffer.from("association request body"));
  const command = pdu(0x04, pdv(1, 0x03, Buffer.from("command")));
  const first = pdu(0x04, pdv(1, 0x00, Buffer.alloc(300, 1)));
  const middle = pdu(
    0x04,
    Buffer.concat([pdv(1, 0x00, Buffer.alloc(500, 2)), pdv(1, 0x00, Buffer.alloc(7, 3))]),
  );
  const last = pdu(
    0x04,
    Buffer.concat([pdv(1, 0x00, Buffer.alloc(9, 5)), pdv(1, 0x02, Buffer.alloc(40, 4))]),
  );
  const release = pdu(0x05, Buffer.alloc(4));
  const stream = Buffer.concat([associate, command, first, middle, last, release]);
  const expected = Buffer.concat([
    Buffer.alloc(300, 1),
    Buffer.alloc(500, 2),
    Buffer.alloc(7, 3),
    Buffer.alloc(9, 5),
    Buffer.alloc(40, 4),
  ]);
  for (const sizes of [[stream.length], [1], [7, 64, 3], [1000, 5]]) {
    const h = harness();
    feed(h.path, stream, sizes);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(Buffer.concat(h.dataset), expected, `chunks ${sizes}`);
    assert.deepEqual(
      h.forwarded,
      [associate, command, emptyFragment(0x00), emptyFragment(0x02), release],
      `chunks ${sizes}`,
    );
    assert.equal(h.bypassed(), first.length + middle.length + last.length);
  }
});

test("a dataset in one PDU, and a dataset that is not stored, reach dcmjs-dimse as they came", () => {
  const single = pdu(0x04, pdv(1, 0x02, Buffer.alloc(30, 7)));
  const h = harness();
  h.path.accept(single);
  assert.deepEqual(h.forwarded, [single]);
  assert.deepEqual(Buffer.concat(h.dataset), Buffer.alloc(30, 7));

  // A C-FIND identifier: dcmjs-dimse opens no store stream, so it must see every byte itself.
  const notStored = harness(false);
  const first = pdu(0x04, pdv(1, 0x00, Buffer.alloc(10, 1)));
  const last = pdu(0x04, pdv(1, 0x02, Buffer.alloc(10, 2)));
  notStored.path.accept(first);
  notStored.path.accept(last);
  assert.deepEqual(notStored.forwarded, [emptyFragment(0x00), first, last]);
  assert.deepEqual(
    Buffer.concat(notStored.inMemory),
    Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(10, 2)]),
  );
});

test("a P-DATA-TF with an odd PDV goes to dcmjs-dimse whole", () => {
  const h = harness();
  const cases = [
    pdu(0x04, pdv(1, 0x01, Buffer.from("command fragment"))),
    pdu(0x04, Buffer.concat([pdv(1, 0x02, Buffer.alloc(10)), pdv(1, 0x00, Buffer.alloc(10))])), // after the last
    pdu(0x04, pdv(9, 0x00, Buffer.alloc(10))), // unknown presentation context
    pdu(0x04, Buffer.from([0, 0, 0, 50, 1, 0, 1, 2])), // PDV longer than its PDU
    pdu(0x04, Buffer.from([0, 0, 0])), // truncated PDV header
    pdu(0x04, Buffer.alloc(0)), // no PDV at all
  ];
  for (const bytes of cases) h.path.accept(bytes);
  assert.deepEqual(h.forwarded, cases);
});

test("after an unknown PDU type every byte is forwarded as received", () => {
  const h = harness();
  const good = pdu(0x05, Buffer.alloc(4));
  const garbage = Buffer.from([0x09, 0, 0, 0, 0, 2, 0xaa, 0xbb, 0x04, 0x00]);
  feed(h.path, Buffer.concat([good, garbage, good]), [3]);
  assert.deepEqual(Buffer.concat(h.forwarded), Buffer.concat([good, garbage, good]));
  assert.deepEqual(h.forwarded[0], good);
});

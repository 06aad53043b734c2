import assert from "node:assert/strict";
import { test } from "node:test";
import { FixedHeaderScanner } from "./size-guard.ts";

/** An MQTT packet with the given Remaining Length (§2.2.3 variable byte integer) and zero body. */
function packet(remaining: number): Buffer {
  const length: number[] = [];
  let x = remaining;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    length.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x32, ...length]), Buffer.alloc(remaining)]);
}

test("packets under the limit pass, however the stream is split", () => {
  const stream = Buffer.concat([packet(0), packet(10), packet(200), packet(20000), packet(1000)]);
  for (const step of [1, 2, 3, 7, 1000, stream.length]) {
    const scanner = new FixedHeaderScanner(20000);
    for (let i = 0; i < stream.length; i += step) {
      assert.equal(scanner.feed(stream.subarray(i, i + step)), undefined, `step ${step}`);
    }
  }
});

test("a declared length over the limit is caught at its header, before the body", () => {
  const scanner = new FixedHeaderScanner(1000);
  assert.equal(scanner.feed(packet(10)), undefined);
  const big = packet(5000).subarray(0, 3); // fixed header only
  assert.deepEqual(scanner.feed(big), { code: "MQTT_PACKET_TOO_LARGE", length: 5000 });
});

test("a Remaining Length of more than four bytes is malformed", () => {
  const scanner = new FixedHeaderScanner(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(scanner.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), {
    code: "MQTT_BAD_LENGTH",
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, backoffDelay } from "./backoff.ts";

test("full jitter: the ceiling doubles from baseMs up to maxMs, the delay is uniform below it", () => {
  const policy = { baseMs: 1000, maxMs: 60_000 };
  const top = () => 0.999999;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 100, 5000].map((n) => backoffDelay(n, policy, top)),
    [999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999, 59_999, 59_999],
  );
  assert.equal(
    backoffDelay(3, policy, () => 0),
    0,
  );
  assert.equal(
    backoffDelay(3, policy, () => 0.5),
    4000,
  );
});

test("Backoff grows per next() and starts over after reset()", () => {
  const backoff = new Backoff({ baseMs: 10, maxMs: 1000 }, () => 0.999999);
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [9, 19, 39]);
  backoff.reset();
  assert.equal(backoff.next(), 9);
});

test("a nonsensical policy is refused", () => {
  assert.throws(() => new Backoff({ baseMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 100, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 1, maxMs: 2 ** 32 }), RangeError);
});

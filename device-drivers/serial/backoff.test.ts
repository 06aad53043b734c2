import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "./backoff.ts";

test("delays double from the base up to the ceiling, each within the upper half of its step", () => {
  const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => low.next()),
    [50, 100, 200, 400, 500, 500],
  );
  const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => high.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
});

test("jitter spreads devices that failed together", () => {
  const delays = new Set(
    Array.from({ length: 50 }, () => new Backoff({ baseMs: 1000, maxMs: 30_000 }).next()),
  );
  assert.ok(delays.size > 10, `50 random first delays should differ (got ${delays.size} distinct)`);
  for (const delay of delays) assert.ok(delay >= 500 && delay <= 1000, `first delay ${delay} out of range`);
});

test("reset starts again from the base; a long outage cannot overflow", () => {
  const backoff = new Backoff({ baseMs: 10, maxMs: 60_000, random: () => 0.5 });
  for (let i = 0; i < 200; i++) assert.ok(Number.isFinite(backoff.next()));
  assert.equal(backoff.attempts, 200);
  assert.equal(backoff.next(), 45_000);
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.next(), 8);
});

test("nonsensical bounds are refused", () => {
  assert.throws(() => new Backoff({ baseMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 100, maxMs: 10 }), RangeError);
});

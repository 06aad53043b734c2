import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesPerSecondAt, TokenBucket, validateBandwidth } from "./bandwidth.ts";

/** A fake clock whose sleep advances it. */
function fakeTime(start = new Date(2026, 10, 25, 10, 0, 0).getTime()) {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}

test("the average rate holds whatever the publish size: 1 MB at 64 kbit/s takes 125 s of waiting", async () => {
  const clock = fakeTime();
  const bucket = new TokenBucket({ kbps: 64 }, clock);
  const started = clock.now();
  for (let sent = 0; sent < 1_000_000; sent += 250_000) await bucket.take(250_000);
  // 8000 bytes/s: the first second's burst is not saved up at the start (empty bucket), so 125 s.
  assert.equal(clock.now() - started, 125_000);
  // Small publishes within the budget go at once after a quiet second.
  clock.advance(1000);
  const before = clock.sleeps.length;
  await bucket.take(8000);
  assert.equal(clock.sleeps.length, before, "a burst of one second's budget waits for nothing");
});

test("unlimited (0) never waits; the schedule picks the rate by the box's local time, across midnight", async () => {
  const clock = fakeTime();
  const open = new TokenBucket({ kbps: 0 }, clock);
  await open.take(10_000_000);
  assert.deepEqual(clock.sleeps, []);

  const budget = {
    kbps: 256,
    schedule: [
      { from: "08:00", to: "17:30", kbps: 64 },
      { from: "22:00", to: "06:00", kbps: 0 },
    ],
  };
  const at = (hours: number, minutes: number) => new Date(2026, 10, 25, hours, minutes);
  assert.equal(bytesPerSecondAt(budget, at(9, 0)), 8000);
  assert.equal(bytesPerSecondAt(budget, at(17, 30)), 32_000, "to is exclusive");
  assert.equal(bytesPerSecondAt(budget, at(23, 15)), Number.POSITIVE_INFINITY);
  assert.equal(bytesPerSecondAt(budget, at(3, 0)), Number.POSITIVE_INFINITY, "the night rule wraps midnight");
  assert.equal(bytesPerSecondAt(budget, at(6, 0)), 32_000);
});

test("a wait ends when the signal aborts", async () => {
  const bucket = new TokenBucket({ kbps: 8 }); // 1000 bytes/s, real clock
  const controller = new AbortController();
  const waiting = bucket.take(1_000_000, controller.signal); // ≈ 1000 s of debt
  controller.abort(new Error("stopping"));
  await assert.rejects(waiting, /stopping/);
});

test("bad budgets are refused by field", () => {
  assert.throws(() => validateBandwidth({ kbps: -1 }), /bandwidth\.kbps/);
  assert.throws(
    () => validateBandwidth({ kbps: 0, schedule: [{ from: "8:00", to: "17:00", kbps: 1 }] }),
    /bandwidth\.schedule\[0\]\.from/,
  );
  assert.throws(
    () => validateBandwidth({ kbps: 0, schedule: [{ from: "08:00", to: "08:00", kbps: 1 }] }),
    /covers no time/,
  );
});

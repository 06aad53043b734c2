import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { encodeJsonMessage, type StatusMessage } from "../../uploader/protocol/index.ts";
import { BoxRegistry } from "./box-status.ts";

const SITE = { countyId: "county", siteId: "site-1" };

function status(online: boolean, extra: Partial<StatusMessage> = {}): Buffer {
  return encodeJsonMessage({ v: 1, type: "status", sentAt: "2026-11-25T08:00:00.000Z", online, ...extra });
}

test("a box's queue figures, last seen, offline since and staleness", async () => {
  let now = Date.parse("2026-11-25T08:00:00.000Z");
  const boxes = new BoxRegistry(silentLogger(), { now: () => new Date(now) });
  const online: string[] = [];
  boxes.onOnline((siteId) => online.push(siteId));
  const handle = boxes.handler();

  await handle(
    SITE,
    status(true, {
      queueDepth: 3,
      queueBytes: 123_456,
      queueStat: 1,
      oldestQueuedAt: "2026-11-24T07:00:00.000Z",
      uploading: "1.2.3.4",
      statusIntervalMs: 30_000,
      software: "dxgate-box 1.0",
    }),
  );
  assert.deepEqual(boxes.list(), [
    {
      siteId: "site-1",
      countyId: "county",
      online: true,
      stale: false,
      lastSeen: "2026-11-25T08:00:00.000Z",
      offlineSince: null,
      queueDepth: 3,
      queueBytes: 123_456,
      queueStat: 1,
      oldestQueuedAt: "2026-11-24T07:00:00.000Z",
      uploading: "1.2.3.4",
      statusIntervalMs: 30_000,
      software: "dxgate-box 1.0",
      sentAt: "2026-11-25T08:00:00.000Z",
      receivedAt: "2026-11-25T08:00:00.000Z",
    },
  ]);
  assert.deepEqual(online, ["site-1"]);

  // Three of its 30 s intervals without a word: stale (still online by its last status).
  now += 90_000;
  assert.equal(boxes.list()[0]!.stale, false, "exactly three intervals is not yet stale");
  now += 1;
  assert.equal(boxes.list()[0]!.stale, true);

  // A fresh status clears it; a periodic one does not announce the box online again.
  await handle(
    SITE,
    status(true, { queueDepth: 2, queueBytes: 1000, queueStat: 0, statusIntervalMs: 30_000 }),
  );
  const fresh = boxes.list()[0]!;
  assert.equal(fresh.stale, false);
  assert.equal(fresh.lastSeen, new Date(now).toISOString());
  assert.equal(fresh.uploading, null);
  assert.equal(fresh.oldestQueuedAt, null);
  assert.deepEqual(online, ["site-1"]);

  // The will: offline since the reading centre heard it; the last queue figures stay shown.
  now += 5000;
  const willAt = new Date(now).toISOString();
  await handle(SITE, status(false));
  const gone = boxes.list()[0]!;
  assert.equal(gone.online, false);
  assert.equal(gone.offlineSince, willAt);
  assert.equal(gone.queueDepth, 2);
  assert.equal(gone.statusIntervalMs, 30_000);
  assert.equal(boxes.isOffline("site-1"), true);
  // An offline box is offline, not stale, however long it stays away; a repeated offline keeps the
  // first time.
  now += 3_600_000;
  await handle(SITE, status(false));
  assert.equal(boxes.list()[0]!.stale, false);
  assert.equal(boxes.list()[0]!.offlineSince, willAt);

  await handle(SITE, status(true, { queueDepth: 0 }));
  assert.equal(boxes.list()[0]!.offlineSince, null);
  assert.deepEqual(online, ["site-1", "site-1"]);
});

test("a box that does not say its status interval is stale after three minutes", async () => {
  let now = Date.parse("2026-11-25T08:00:00.000Z");
  const boxes = new BoxRegistry(silentLogger(), { now: () => new Date(now) });
  await boxes.handler()(SITE, status(true, { queueDepth: 1 }));
  const box = boxes.list()[0]!;
  assert.equal(box.statusIntervalMs, null);
  assert.equal(box.queueBytes, null, "figures an older box does not send are null");
  now += 180_000;
  assert.equal(boxes.list()[0]!.stale, false);
  now += 1;
  assert.equal(boxes.list()[0]!.stale, true);
});

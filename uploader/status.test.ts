import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../common/logger.ts";
import { downWildcard, encodeJsonMessage, upTopic } from "./protocol/index.ts";
import { Session } from "./session.ts";
import { StatusPublisher, statusMessage } from "./status.ts";
import { startBroker } from "./test-support/broker.ts";
import { FakeReadingCentre } from "./test-support/fake-reading-centre.ts";
import { makeStudy, tempDir } from "./test-support/fixtures.ts";
import { BOX_CLIENT_ID, SITE } from "./test-support/harness.ts";
import { PriorityQueue } from "./test-support/priority-queue.ts";

test("statusMessage carries the figures given and leaves the others out", () => {
  const message = statusMessage(true, {
    queueDepth: 2,
    queueBytes: 10,
    queueStat: 1,
    oldestQueuedAt: "2026-11-25T08:00:00.000Z",
    uploading: "1.2.3",
    statusIntervalMs: 60_000,
    software: undefined,
  });
  assert.deepEqual(Object.keys(message).sort(), [
    "oldestQueuedAt",
    "online",
    "queueBytes",
    "queueDepth",
    "queueStat",
    "sentAt",
    "statusIntervalMs",
    "type",
    "uploading",
    "v",
  ]);
  assert.deepEqual(Object.keys(statusMessage(false)).sort(), ["online", "sentAt", "type", "v"]);
});

test("the status carries the queue's figures on connect, follows a change of depth, and goes offline", async () => {
  const broker = await startBroker();
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const dir = await tempDir();
  const queue = new PriorityQueue();
  const session = new Session({
    brokerUrl: broker.url,
    clientId: BOX_CLIENT_ID,
    will: () => ({ topic: upTopic(SITE, "status"), payload: encodeJsonMessage(statusMessage(false)) }),
    subscriptions: [downWildcard(SITE)],
    reconnect: { baseMs: 20, maxMs: 200 },
    keepaliveSeconds: 30,
    connectTimeoutMs: 2000,
    log: silentLogger(),
  });
  let uploading: string | undefined;
  const status = new StatusPublisher({
    session,
    site: SITE,
    queue,
    uploading: () => uploading,
    intervalMs: 60_000,
    software: "dxgate-test",
    log: silentLogger(),
    changeDebounceMs: 20,
  });
  session.on("connected", () => status.onConnected());
  session.on("disconnected", () => status.onDisconnected());
  try {
    const routine = await makeStudy(dir.path, [1000, 2000]);
    queue.add(routine.outbound, "routine");
    uploading = routine.outbound.study.studyInstanceUid;
    session.start();

    const first = await peer.waitFor("status", (e) => e.message.online);
    assert.equal(first.message.queueDepth, 1);
    assert.equal(first.message.queueBytes, 3000);
    assert.equal(first.message.queueStat, 0);
    assert.equal(first.message.oldestQueuedAt, routine.outbound.study.receivedAt);
    assert.equal(first.message.uploading, routine.outbound.study.studyInstanceUid);
    assert.equal(first.message.statusIntervalMs, 60_000);
    assert.equal(first.message.software, "dxgate-test");
    assert.equal(JSON.stringify(first.message).includes("TEST^PATIENT"), false, "no patient data");

    // A study becoming ready is announced without waiting for the interval (a minute here).
    const stat = await makeStudy(dir.path, [500]);
    queue.add(stat.outbound, "stat");
    const second = await peer.waitFor("status", (e) => e.message.queueDepth === 2);
    assert.equal(second.message.queueStat, 1);
    assert.equal(second.message.queueBytes, 3500);

    // The sender's delivered() hook (onQueueChanged) does the same.
    await queue.delivered(stat.outbound.study.studyInstanceUid, []);
    uploading = undefined;
    status.queueChanged();
    const third = await peer.waitFor("status", (e) => e.message.online && e.message.uploading === undefined);
    assert.equal(third.message.queueDepth, 1);
    assert.equal(third.message.queueStat, 0);

    await session.stop(() => status.publishOffline());
    const offline = await peer.waitFor("status", (e) => !e.message.online);
    assert.equal(offline.message.queueDepth, undefined);
  } finally {
    status.stop();
    await session.stop();
    await peer.close();
    await broker.kill();
    await dir.remove();
  }
});

test("an older composition (depth only) still announces the depth", async () => {
  const broker = await startBroker();
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const session = new Session({
    brokerUrl: broker.url,
    clientId: BOX_CLIENT_ID,
    will: () => ({ topic: upTopic(SITE, "status"), payload: encodeJsonMessage(statusMessage(false)) }),
    subscriptions: [downWildcard(SITE)],
    reconnect: { baseMs: 20, maxMs: 200 },
    keepaliveSeconds: 30,
    connectTimeoutMs: 2000,
    log: silentLogger(),
  });
  const status = new StatusPublisher({
    session,
    site: SITE,
    depth: async () => 7,
    intervalMs: 60_000,
    software: undefined,
    log: silentLogger(),
  });
  session.on("connected", () => status.onConnected());
  try {
    session.start();
    const online = await peer.waitFor("status", (e) => e.message.online);
    assert.equal(online.message.queueDepth, 7);
    assert.equal(online.message.queueBytes, undefined);
  } finally {
    status.stop();
    await session.stop();
    await peer.close();
    await broker.kill();
  }
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../common/logger.ts";
import { createUploader } from "./index.ts";
import { startBroker, unusedPort } from "./test-support/broker.ts";
import { FakeReadingCentre } from "./test-support/fake-reading-centre.ts";
import { delay, makeStudy, tempDir } from "./test-support/fixtures.ts";
import { BOX_CLIENT_ID, FAST, SITE, world } from "./test-support/harness.ts";
import { MemoryInbox, MemoryQueue } from "./test-support/memory-ports.ts";

test("broker down at start: start() resolves, the box connects when the broker comes up and sends the queue", async () => {
  const port = await unusedPort();
  const dir = await tempDir();
  const queue = new MemoryQueue();
  const uploader = createUploader({
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    site: SITE,
    queue,
    inbox: new MemoryInbox(),
    log: silentLogger(),
    ...FAST,
  });
  const { outbound } = await makeStudy(dir.path, [10_000, 50_000]);
  queue.add(outbound);
  await uploader.start();
  await delay(300);
  assert.equal(uploader.isConnected(), false);
  assert.equal(queue.events.length, 0, "nothing is attempted while offline");

  const broker = await startBroker(port);
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  try {
    await queue.waitFor((e) => e.kind === "delivered" && e.uid === outbound.study.studyInstanceUid);
    assert.equal(uploader.isConnected(), true);
    assert.equal(peer.stored.get(outbound.study.studyInstanceUid)?.size, 2);
  } finally {
    await uploader.stop();
    await peer.close();
    await broker.kill();
    await dir.remove();
  }
});

test("broker killed mid-transfer and restarted: the study is delivered, exactly its instances", async () => {
  const w = await world({ ackTimeoutMs: 1500 });
  let broker = w.broker;
  try {
    // ~130 chunks of 16 KiB: long enough to kill the broker in the middle.
    const { outbound, bytes } = await makeStudy(w.dir.path, [2 * 1024 * 1024, 7000]);
    const uid = outbound.study.studyInstanceUid;
    w.queue.add(outbound);
    await w.uploader.start();

    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 20);
    await broker.kill();
    assert.ok(w.peer.of("commit").length === 0, "killed before the commit");
    await delay(100);
    // The box is let back in only once the reading centre listens again, as the embedded broker
    // (same process as the receiver) would have it; otherwise its upload would go to nobody and the
    // test would be timing out acks rather than resuming.
    let peerBack = false;
    broker = await startBroker(broker.port, { admit: (id) => id !== BOX_CLIENT_ID || peerBack });
    await w.peer.subscribed(2);
    peerBack = true;

    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid, 15_000);
    const failed = w.queue.of("failed");
    assert.equal(failed.length, 1, "the interrupted attempt is reported failed, the next one succeeds");
    assert.match(failed[0]!.kind === "failed" ? failed[0]!.reason : "", /UPLOAD_CONNECTION_LOST/);
    const stored = w.peer.stored.get(uid)!;
    assert.deepEqual([...stored.keys()].sort(), [...bytes.keys()].sort());
    for (const [sop, data] of bytes) assert.ok(stored.get(sop)!.equals(data));
    const delivered = w.queue.of("delivered");
    assert.equal(delivered.length, 1);
    assert.deepEqual(
      delivered[0]!.kind === "delivered" && [...delivered[0]!.stored].sort(),
      [...bytes.keys()].sort(),
    );
  } finally {
    await w.uploader.stop();
    await w.peer.close();
    await broker.kill();
    await w.dir.remove();
  }
});

test("last will: when the box's socket dies, the county sees a retained status online:false", async () => {
  let admitBox = true;
  const broker = await startBroker(0, { admit: (clientId) => clientId !== BOX_CLIENT_ID || admitBox });
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const uploader = createUploader({
    brokerUrl: broker.url,
    site: SITE,
    queue: new MemoryQueue(),
    inbox: new MemoryInbox(),
    log: silentLogger(),
    ...FAST,
    software: "dxgate-test/1",
  });
  try {
    await uploader.start();
    const online = await peer.waitFor("status", (e) => e.message.online);
    assert.equal(online.message.queueDepth, 0);
    assert.equal(online.message.software, "dxgate-test/1");

    // Keep the box out after the cut, so the retained will is not overwritten by a reconnect.
    admitBox = false;
    assert.ok(broker.dropClient(BOX_CLIENT_ID));
    const will = await peer.waitFor("status", (e) => !e.message.online);
    assert.equal(will.message.online, false);
    await delay(100);
    assert.equal(uploader.isConnected(), false);

    const late = await FakeReadingCentre.start(broker.url, SITE.countyId);
    try {
      const retained = await late.waitFor("status");
      assert.equal(retained.retained, true);
      assert.equal(retained.message.online, false);
    } finally {
      await late.close();
    }

    // Let it back in: it reconnects on its own and announces itself online again.
    admitBox = true;
    await peer.waitFor("status", (e) => e.message.online && e !== online);
    assert.equal(uploader.isConnected(), true);
  } finally {
    await uploader.stop();
    await peer.close();
    await broker.kill();
  }
});

test("a link blip while waiting for the commit-ack: the broker keeps the ack for the box's session", async () => {
  let admitBox = true;
  const broker = await startBroker(0, { admit: (clientId) => clientId !== BOX_CLIENT_ID || admitBox });
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const dir = await tempDir();
  const queue = new MemoryQueue();
  const uploader = createUploader({
    brokerUrl: broker.url,
    site: SITE,
    queue,
    inbox: new MemoryInbox(),
    log: silentLogger(),
    ...FAST,
    ackTimeoutMs: 5000,
  });
  try {
    peer.lateMs = 300;
    peer.behaviour = () => "late";
    const { outbound } = await makeStudy(dir.path, [20_000]);
    queue.add(outbound);
    await uploader.start();
    await peer.waitFor("commit");
    admitBox = false;
    assert.ok(broker.dropClient(BOX_CLIENT_ID));
    // The ack is published while the box is away; the broker queues it in the box's session.
    await peer.waitFor("commit-ack");
    await delay(100);
    assert.equal(uploader.isConnected(), false);
    admitBox = true;

    await queue.waitFor((e) => e.kind === "delivered");
    assert.equal(queue.of("failed").length, 0, "no second attempt was needed");
    assert.equal(peer.of("manifest").length, 1);
  } finally {
    await uploader.stop();
    await peer.close();
    await broker.kill();
    await dir.remove();
  }
});

test("a broker restart while waiting for the commit-ack fails the attempt at once (session lost)", async () => {
  const w = await world({ ackTimeoutMs: 10_000 });
  let broker = w.broker;
  try {
    w.peer.behaviour = (_commit, n) => (n === 1 ? "silent" : "verify");
    const { outbound } = await makeStudy(w.dir.path, [20_000]);
    w.queue.add(outbound);
    await w.uploader.start();
    await w.peer.waitFor("commit");
    await broker.kill();
    let peerBack = false;
    broker = await startBroker(broker.port, { admit: (id) => id !== BOX_CLIENT_ID || peerBack });
    await w.peer.subscribed(2);
    peerBack = true;

    const started = Date.now();
    await w.queue.waitFor((e) => e.kind === "delivered", 8000);
    assert.ok(Date.now() - started < 5000, "did not wait out the 10 s ack timeout");
    const failed = w.queue.of("failed");
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.kind === "failed" ? failed[0]!.reason : "", /UPLOAD_SESSION_LOST/);
  } finally {
    await w.uploader.stop();
    await w.peer.close();
    await broker.kill();
    await w.dir.remove();
  }
});

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { FakeReadingCentre } from "./test-support/fake-reading-centre.ts";
import { delay, makeStudy } from "./test-support/fixtures.ts";
import { SITE, world } from "./test-support/harness.ts";

test("a two-file study arrives byte-identical and leaves the queue only on commit-ack ok", async () => {
  const w = await world({}, true);
  try {
    // 16 KiB chunks: the second file spans many chunks and ends in a short one.
    const { outbound, bytes } = await makeStudy(w.dir.path, [3000, 16 * 1024 * 9 + 123]);
    const uid = outbound.study.studyInstanceUid;
    w.queue.add(outbound);
    await w.uploader.start();

    const delivered = await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    assert.deepEqual(
      delivered.kind === "delivered" && [...delivered.stored].sort(),
      [...bytes.keys()].sort(),
      "delivered() lists every instance",
    );
    const stored = w.peer.stored.get(uid)!;
    for (const [sop, data] of bytes)
      assert.ok(stored.get(sop)?.equals(data), `instance ${sop} is byte-identical`);
    assert.equal(w.queue.of("failed").length, 0);
    assert.equal(w.queue.studies.size, 0);
    assert.equal(w.uploader.isConnected(), true);

    const manifests = w.peer.of("manifest");
    assert.equal(manifests.length, 1);
    assert.equal(manifests[0]!.message.chunkSize, 16 * 1024);
    assert.equal(
      JSON.stringify(manifests[0]!.message).includes(w.dir.path),
      false,
      "no box paths in the manifest",
    );
    assert.equal(w.peer.of("chunk").length, 1 + 10);

    const online = await w.peer.waitFor("status", (e) => e.message.online);
    assert.equal(typeof online.message.queueDepth, "number");
    assert.ok(w.logLines.some((line) => line.includes("study delivered")));
    assert.equal(
      w.logLines.some((line) => line.includes("TEST^PATIENT")),
      false,
      "no patient name in the logs",
    );
  } finally {
    await w.close();
  }
});

test("commit-ack error → failed(), then a retry under a new transferId succeeds", async () => {
  const w = await world();
  try {
    w.peer.behaviour = (_commit, n) => (n === 1 ? "error" : "verify");
    const { outbound } = await makeStudy(w.dir.path, [5000, 40_000]);
    const uid = outbound.study.studyInstanceUid;
    w.queue.add(outbound);
    await w.uploader.start();

    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    const failed = w.queue.of("failed");
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.kind === "failed" ? failed[0]!.reason : "", /UPLOAD_REJECTED.*TEST_REFUSED/);
    const transfers = new Set(w.peer.of("manifest").map((e) => e.message.transferId));
    assert.equal(transfers.size, 2, "each attempt has its own transferId");
    assert.equal(w.queue.of("uploading").length, 2);
  } finally {
    await w.close();
  }
});

test("no commit-ack → timeout → failed(), then a retry succeeds; the late ack of the first attempt is ignored", async () => {
  const w = await world({ ackTimeoutMs: 300 }, true);
  try {
    w.peer.lateMs = 700;
    w.peer.behaviour = (_commit, n) => (n === 1 ? "late" : "verify");
    const { outbound } = await makeStudy(w.dir.path, [2048]);
    const uid = outbound.study.studyInstanceUid;
    w.queue.add(outbound);
    await w.uploader.start();

    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    const failed = w.queue.of("failed");
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.kind === "failed" ? failed[0]!.reason : "", /UPLOAD_ACK_TIMEOUT/);

    // The first attempt's ack comes after the box moved on: it must change nothing.
    const first = w.peer.of("commit")[0]!.message.transferId;
    await w.peer.waitFor("commit-ack", (e) => e.message.transferId === first);
    await waitUntil(() =>
      w.logLines.some((line) => line.includes("ignored a commit-ack for no live transfer")),
    );
    assert.equal(w.queue.of("delivered").length, 1);
    assert.equal(w.queue.of("failed").length, 1);
  } finally {
    await w.close();
  }
});

test("a file whose size does not match its descriptor fails with a clear reason; other studies still go", async () => {
  const w = await world();
  try {
    const bad = await makeStudy(w.dir.path, [4096]);
    const good = await makeStudy(w.dir.path, [4096]);
    await writeFile(bad.outbound.instances[0]!.path, Buffer.alloc(100));
    w.queue.add(bad.outbound);
    w.queue.add(good.outbound);
    await w.uploader.start();

    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === good.outbound.study.studyInstanceUid);
    const failed = w.queue.of("failed").filter((e) => e.uid === bad.outbound.study.studyInstanceUid);
    assert.ok(failed.length >= 1);
    assert.match(failed[0]!.kind === "failed" ? failed[0]!.reason : "", /UPLOAD_SIZE_MISMATCH.*100 bytes/);
    assert.equal(
      w.peer
        .of("manifest")
        .some((e) => e.message.study.studyInstanceUid === bad.outbound.study.studyInstanceUid),
      false,
      "nothing of the bad study is sent",
    );
    assert.ok(w.queue.studies.has(bad.outbound.study.studyInstanceUid), "the bad study stays queued");
  } finally {
    await w.close();
  }
});

test("stop() announces offline (retained), disconnects and leaves queued studies queued", async () => {
  const w = await world({ ackTimeoutMs: 10_000 });
  try {
    w.peer.behaviour = () => "silent";
    const { outbound } = await makeStudy(w.dir.path, [4096]);
    const uid = outbound.study.studyInstanceUid;
    w.queue.add(outbound);
    await w.uploader.start();
    await w.peer.waitFor("commit");
    await w.uploader.stop();

    assert.equal(w.uploader.isConnected(), false);
    assert.ok(w.queue.studies.has(uid), "still queued");
    const last = w.queue.events.at(-1);
    assert.equal(last?.kind, "failed");
    assert.match(last?.kind === "failed" ? last.reason : "", /UPLOAD_STOPPED/);
    assert.equal(w.queue.of("delivered").length, 0);

    const late = await FakeReadingCentre.start(w.broker.url, SITE.countyId);
    try {
      const status = await late.waitFor("status");
      assert.equal(status.message.online, false);
      assert.equal(status.retained, true);
    } finally {
      await late.close();
    }
  } finally {
    await w.close();
  }
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(20);
  }
}

test("a bandwidth budget paces the transfer: the study still arrives whole, no faster than the budget allows", async () => {
  // 400 kbit/s = 50 000 bytes/s; the bucket starts empty, so ≈ 150 KB of chunks need ≥ 3 s.
  const w = await world({ chunkSize: 16 * 1024, bandwidth: { kbps: 400 } });
  try {
    const { outbound, bytes } = await makeStudy(w.dir.path, [16 * 1024 * 9 + 123]);
    const uid = outbound.study.studyInstanceUid;
    const total = [...bytes.values()].reduce((sum, data) => sum + data.length, 0);
    w.queue.add(outbound);
    const started = performance.now();
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    const seconds = (performance.now() - started) / 1000;
    // A lower bound only (a slow machine makes it longer, never shorter): the budget held.
    assert.ok(seconds >= (0.95 * total) / 50_000, `${total} bytes in ${seconds.toFixed(2)} s`);
    for (const [sop, data] of bytes) assert.ok(w.peer.stored.get(uid)?.get(sop)?.equals(data));
  } finally {
    await w.close();
  }
});

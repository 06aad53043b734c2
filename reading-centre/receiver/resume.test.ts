/**
 * Resumable transfer end to end (real aedes broker, mqtt.js box): after a cut the next attempt's
 * manifest-ack lists exactly what the county holds and only the rest is sent; a chunk file damaged
 * on disk is found at the commit and only it is sent again; held ranges survive a restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { ManifestAckMessage } from "../../uploader/protocol/index.ts";
import { FakeBox, makeStudy, type TestStudy } from "../testing/box.ts";
import { disposeRc, type RunningRc, startRc } from "../testing/harness.ts";

let rc: RunningRc;
let token: string;

before(async () => {
  rc = await startRc();
  token = await rc.login();
});
after(async () => disposeRc(rc));

/** Chunk files staged for a site, as `<content dir>/<file>` (content dirs are per instance content). */
async function stagedChunks(dataDir: string, siteId: string): Promise<string[]> {
  const root = join(dataDir, "staging", siteId, "content");
  const found: string[] = [];
  for (const dir of await readdir(root).catch(() => [])) {
    for (const name of await readdir(join(root, dir)))
      if (name.endsWith(".chunk")) found.push(`${dir}/${name}`);
  }
  return found.sort();
}

/** Publishing only reaches the broker: wait until the receiver has staged `n` chunk files. */
async function waitForChunks(dataDir: string, siteId: string, n: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const chunks = await stagedChunks(dataDir, siteId);
    if (chunks.length >= n) return chunks;
    if (Date.now() > deadline) throw new Error(`only ${chunks.length} of ${n} chunks staged`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function assertStoredOnce(study: TestStudy, siteId: string): Promise<void> {
  const list = (await rc.api("GET", "/api/worklist", { token })).json as Array<{
    studyInstanceUid: string;
    siteId: string;
    instanceCount: number;
  }>;
  const entries = list.filter((s) => s.studyInstanceUid === study.study.studyInstanceUid);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.siteId, siteId);
  assert.equal(entries[0]!.instanceCount, study.instances.length);
  for (const instance of study.instances) {
    const response = await rc.api("GET", `/api/instances/${instance.descriptor.sopInstanceUid}`, { token });
    assert.equal(response.status, 200);
    assert.ok(response.bytes.equals(instance.bytes), "byte-identical");
  }
}

function sentIn(box: FakeBox, transferId: string): Array<[string, number, number]> {
  return box.sent
    .filter((c) => c.transferId === transferId)
    .map((c) => [c.sopInstanceUid, c.offset, c.length]);
}

test("after a cut, a new transfer is told exactly what is held, sends only the rest, and the study is stored once", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-resume");
  try {
    const study = makeStudy({ sizes: [10_000, 20_000, 7000] });
    const [a, b, c] = study.instances.map((i) => i.descriptor.sopInstanceUid) as [string, string, string];

    // Attempt 1: everything of the first instance and two chunks of the second, then the link goes.
    const first = `t-${randomUUID()}`;
    await box.sendManifest(study, first);
    const ack1 = await box.waitManifestAck(first);
    assert.equal(ack1.status, "ok");
    assert.deepEqual(ack1.held, []);
    await box.sendChunks(study, first, {
      chunkSize: ack1.chunkSize,
      only: (sop, offset) => sop === a || (sop === b && offset < 8192),
    });
    await waitForChunks(rc.dataDir, "site-resume", 5);

    // Attempt 2, a new transfer id: the county lists what it holds, and only the rest goes.
    const second = `t-${randomUUID()}`;
    await box.sendManifest(study, second);
    const ack2 = await box.waitManifestAck(second);
    assert.equal(ack2.status, "ok");
    assert.equal(ack2.chunkSize, 4096);
    assert.deepEqual(ack2.held, [
      [0, 0, 10_000],
      [1, 0, 8192],
    ]);
    await box.sendChunks(study, second, { chunkSize: ack2.chunkSize, held: ack2.held });
    assert.deepEqual(sentIn(box, second), [
      [b, 8192, 4096],
      [b, 12_288, 4096],
      [b, 16_384, 3616],
      [c, 0, 4096],
      [c, 4096, 2904],
    ]);
    const commit = await box.sendCommit(study, second);
    assert.equal(commit.status, "ok");
    assert.deepEqual(commit.stored.sort(), [a, b, c].sort());
    await assertStoredOnce(study, "site-resume");
    assert.deepEqual(await stagedChunks(rc.dataDir, "site-resume"), [], "staged content removed once stored");

    // The abandoned first attempt's commit, should it still come, stores nothing twice.
    const late = await box.sendCommit(study, first);
    assert.equal(late.status, "ok");
    await assertStoredOnce(study, "site-resume");

    // A third attempt (the box never heard the ack) holds everything: nothing is sent.
    const third = await box.sendStudy(study);
    assert.equal(third.status, "ok");
    assert.deepEqual(sentIn(box, third.transferId), []);
    await assertStoredOnce(study, "site-resume");
  } finally {
    await box.end();
  }
});

test("a box that does not wait for the manifest-ack (older box) may send everything again", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-older");
  try {
    const study = makeStudy({ sizes: [9000, 3000] });
    const first = `t-${randomUUID()}`;
    await box.sendManifest(study, first);
    await box.sendChunks(study, first, { only: (_sop, offset) => offset === 0 });
    await waitForChunks(rc.dataDir, "site-older", 2);
    const ack = await box.sendStudy(study, { waitForAck: false, chunkSize: 2048 });
    assert.equal(ack.status, "ok");
    await assertStoredOnce(study, "site-older");
  } finally {
    await box.end();
  }
});

test("a chunk file damaged on disk is found at the commit and dropped; the retry sends only that chunk", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-disk");
  try {
    const study = makeStudy({ sizes: [6000, 12_000, 5000] });
    const damaged = study.instances[1]!.descriptor;
    const transferId = `t-${randomUUID()}`;
    await box.sendManifest(study, transferId);
    const ack = await box.waitManifestAck(transferId);
    await box.sendChunks(study, transferId, { chunkSize: ack.chunkSize, held: ack.held });
    const chunks = await waitForChunks(rc.dataDir, "site-disk", 6);
    // The middle chunk of the second instance rots on disk (same length, one byte changed).
    const victim = chunks.find(
      (c) => c.startsWith(`${damaged.sopInstanceUid}-`) && c.includes("/0000000000001000-"),
    );
    assert.ok(victim);
    const path = join(rc.dataDir, "staging", "site-disk", "content", victim);
    const bytes = await readFile(path);
    bytes[100] = bytes[100]! ^ 0x40;
    await writeFile(path, bytes);

    const incomplete = await box.sendCommit(study, transferId);
    assert.equal(incomplete.status, "error");
    assert.equal(incomplete.error?.code, "INCOMPLETE");
    assert.deepEqual(incomplete.missing, [damaged.sopInstanceUid]);
    assert.equal(incomplete.stored.length, 2);
    const left = await stagedChunks(rc.dataDir, "site-disk");
    assert.ok(!left.includes(victim), "the bad chunk file is deleted");
    assert.equal(left.length, 2, "the good chunks of that instance stay");
    assert.equal(rc.logs.find("staged chunks failed verification, removed", { badChunks: 1 }).length, 1);

    const retry = await box.sendStudy(study);
    assert.equal(retry.status, "ok");
    assert.deepEqual(sentIn(box, retry.transferId), [[damaged.sopInstanceUid, 4096, 4096]]);
    await assertStoredOnce(study, "site-disk");
  } finally {
    await box.end();
  }
});

test("held ranges survive a restart of the reading centre mid-transfer", async () => {
  const first = await startRc();
  const study = makeStudy({ sizes: [9000, 9000] });
  const box1 = await FakeBox.connect(first.mqttPort, "site-restart-held");
  const transferId = `t-${randomUUID()}`;
  await box1.sendManifest(study, transferId, 4096);
  await box1.waitManifestAck(transferId);
  await box1.sendChunks(study, transferId, { only: (_sop, offset) => offset < 8192 });
  await waitForChunks(first.dataDir, "site-restart-held", 4);
  await box1.end();
  await first.stop();

  const second = await startRc({ dataDir: first.dataDir });
  const box2 = await FakeBox.connect(second.mqttPort, "site-restart-held");
  try {
    assert.equal(second.logs.find("staging loaded")[0]?.transfers, 1);
    const retry = `t-${randomUUID()}`;
    await box2.sendManifest(study, retry, 4096);
    const ack: ManifestAckMessage = await box2.waitManifestAck(retry);
    assert.deepEqual(ack.held, [
      [0, 0, 8192],
      [1, 0, 8192],
    ]);
    await box2.sendChunks(study, retry, { chunkSize: ack.chunkSize, held: ack.held });
    assert.equal(box2.sent.length, 2);
    const commit = await box2.sendCommit(study, retry);
    assert.equal(commit.status, "ok");
    assert.equal(commit.stored.length, 2);
  } finally {
    await box2.end();
    await disposeRc(second);
  }
});

/**
 * The real uploader against the real reading centre (in-process, a registered box with its password
 * in the broker URL and its signing key): an attempt cut short is resumed from what the county holds.
 * Its refusals (unsigned, over quota) and chunk-size ceiling reach the box. Test only: the two
 * sides meet over MQTT.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { disposeRc, type RunningRc, startRc, waitUntil } from "../reading-centre/testing/harness.ts";
import { createUploader, type UploaderOptions } from "./index.ts";
import { makeStudy, tempDir } from "./test-support/fixtures.ts";
import { FAST } from "./test-support/harness.ts";
import { MemoryInbox, MemoryQueue } from "./test-support/memory-ports.ts";

const SITE = { countyId: "county", siteId: "township-1" };

function box(rc: RunningRc, password: string, queue: MemoryQueue, extra: Partial<UploaderOptions>) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const uploader = createUploader({
    brokerUrl: `mqtt://${SITE.siteId}:${encodeURIComponent(password)}@127.0.0.1:${rc.mqttPort}`,
    site: SITE,
    queue,
    inbox: new MemoryInbox(),
    log: createLogger({ name: "box", level: "debug", destination }),
    ...FAST,
    manifestAckTimeoutMs: 5000,
    ...extra,
  });
  const acknowledged = () =>
    lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === "study acknowledged by the reading centre");
  return { uploader, lines, acknowledged };
}

test("a signed box: an attempt cut short is resumed from what the county holds", async () => {
  const rc = await startRc();
  const dir = await tempDir();
  const credentials = await rc.addBox(SITE.siteId);
  const queue = new MemoryQueue();
  // 400 KB/s: the 1.5 MB study takes ~4 s, long enough to stop the box in the middle.
  const slow = { signingKey: credentials.signingKey, bandwidth: { kbps: 3200 } };
  const first = box(rc, credentials.password, queue, slow);
  const second = box(rc, credentials.password, queue, { signingKey: credentials.signingKey });
  try {
    const { outbound } = await makeStudy(dir.path, [1_500_000, 5000]);
    const uid = outbound.study.studyInstanceUid;
    const total = 1_505_000;
    queue.add(outbound);
    await first.uploader.start();
    await waitUntil(() => rc.logs.find("transfer started", { studyInstanceUid: uid }).length === 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await first.uploader.stop();
    assert.equal(queue.of("delivered").length, 0, "stopped before the end");

    await second.uploader.start();
    await queue.waitFor((e) => e.kind === "delivered" && e.uid === uid, 20_000);
    const [done] = second.acknowledged();
    assert.ok(done, "the second box acknowledged the study");
    assert.equal(done.negotiated, true, "the county answered the manifest");
    assert.ok((done.heldBytes as number) > 0, `some bytes were held: ${JSON.stringify(done)}`);
    assert.equal((done.heldBytes as number) + (done.sentBytes as number), total);
    const token = await rc.login();
    const worklist = (await rc.api("GET", "/api/worklist", { token })).json as Array<Record<string, unknown>>;
    assert.equal(worklist.find((s) => s.studyInstanceUid === uid)?.instanceCount, 2);
  } finally {
    await first.uploader.stop();
    await second.uploader.stop();
    await disposeRc(rc);
    await dir.remove();
  }
});

test("the county's refusals reach the queue as UPLOAD_REFUSED: unsigned manifest, staging quota", async () => {
  const rc = await startRc({ overrides: { "quotas.stagingBytesPerBox": 100_000 } });
  const dir = await tempDir();
  const credentials = await rc.addBox(SITE.siteId);
  const noRetry = { retry: { baseMs: 60_000, maxMs: 60_000 } };
  const unsignedQueue = new MemoryQueue();
  const unsigned = box(rc, credentials.password, unsignedQueue, noRetry);
  const signedQueue = new MemoryQueue();
  const signed = box(rc, credentials.password, signedQueue, {
    ...noRetry,
    signingKey: credentials.signingKey,
  });
  try {
    const small = await makeStudy(dir.path, [20_000]);
    unsignedQueue.add(small.outbound);
    await unsigned.uploader.start();
    const refused = await unsignedQueue.waitFor((e) => e.kind === "failed", 10_000);
    assert.match(refused.kind === "failed" ? refused.reason : "", /^UPLOAD_REFUSED: .*SIGNATURE_MISSING/);
    await unsigned.uploader.stop();

    const large = await makeStudy(dir.path, [300_000]);
    signedQueue.add(large.outbound);
    await signed.uploader.start();
    const overQuota = await signedQueue.waitFor((e) => e.kind === "failed", 10_000);
    assert.match(
      overQuota.kind === "failed" ? overQuota.reason : "",
      /^UPLOAD_REFUSED: .*QUOTA_EXCEEDED.*retry after \d+ ms/,
    );
    assert.equal(signedQueue.of("delivered").length, 0);
  } finally {
    await unsigned.uploader.stop();
    await signed.uploader.stop();
    await disposeRc(rc);
    await dir.remove();
  }
});

test("the county's chunk-size ceiling is what the box uses", async () => {
  const rc = await startRc({ overrides: { "mqtt.maxChunkBytes": 4096 } });
  const dir = await tempDir();
  const credentials = await rc.addBox(SITE.siteId);
  const queue = new MemoryQueue();
  const signed = box(rc, credentials.password, queue, { signingKey: credentials.signingKey });
  try {
    const { outbound } = await makeStudy(dir.path, [50_000]);
    queue.add(outbound);
    await signed.uploader.start();
    await queue.waitFor((e) => e.kind === "delivered", 10_000);
    const [done] = signed.acknowledged();
    assert.equal(done?.chunkSize, 4096);
    assert.equal(done?.sentBytes, 50_000);
  } finally {
    await signed.uploader.stop();
    await disposeRc(rc);
    await dir.remove();
  }
});

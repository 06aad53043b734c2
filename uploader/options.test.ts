import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { silentLogger } from "../common/logger.ts";
import { createUploader, type UploaderOptions } from "./index.ts";
import { resolveOptions } from "./options.ts";
import { unusedPort } from "./test-support/broker.ts";
import { MemoryInbox, MemoryQueue } from "./test-support/memory-ports.ts";

const base: UploaderOptions = {
  brokerUrl: "mqtt://127.0.0.1:1883",
  site: { countyId: "c1", siteId: "s1" },
  queue: new MemoryQueue(),
  inbox: new MemoryInbox(),
  log: silentLogger(),
};

test("defaults", () => {
  const resolved = resolveOptions(base);
  assert.equal(resolved.chunkSize, 256 * 1024);
  assert.equal(resolved.window, 8);
  assert.equal(resolved.ackTimeoutMs, 60_000);
  assert.equal(resolved.manifestAckTimeoutMs, 15_000);
  assert.equal(resolved.tls, undefined);
  assert.equal(resolved.signingKey, undefined);
  assert.deepEqual(resolved.reconnect, { baseMs: 1000, maxMs: 60_000 });
  assert.deepEqual(resolved.retry, { baseMs: 2000, maxMs: 300_000 });
  assert.equal(resolved.statusIntervalMs, 60_000);
  assert.equal(resolved.pollIntervalMs, 5000);
  assert.equal(resolved.sendPreviews, true);
  assert.equal(resolved.maxPreviewBytes, 768 * 1024);
});

test("bad configuration fails in createUploader, by name", () => {
  assert.throws(() => createUploader({ ...base, chunkSize: 2 * 1024 * 1024 }), /chunkSize/);
  assert.throws(() => createUploader({ ...base, chunkSize: 100 }), /chunkSize/);
  assert.throws(() => createUploader({ ...base, maxPreviewBytes: 768 * 1024 + 1 }), /maxPreviewBytes/);
  assert.throws(() => createUploader({ ...base, maxPreviewBytes: 0 }), /maxPreviewBytes/);
  assert.throws(() => createUploader({ ...base, window: 0 }), /window/);
  assert.throws(() => createUploader({ ...base, brokerUrl: "http://x" }), /brokerUrl/);
  assert.throws(() => createUploader({ ...base, site: { countyId: "c/1", siteId: "s1" } }), /countyId/);
  assert.throws(() => createUploader({ ...base, retry: { baseMs: 10, maxMs: 1 } }), /retry/);
});

test("stop() before start() is a no-op", async () => {
  const uploader = createUploader(base);
  await uploader.stop();
  assert.equal(uploader.isConnected(), false);
});

test("start() against an unreachable broker resolves at once, and stop() ends the retrying promptly", async () => {
  const port = await unusedPort();
  const uploader = createUploader({
    ...base,
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    reconnect: { baseMs: 10, maxMs: 50 },
  });
  try {
    const started = Date.now();
    await uploader.start();
    assert.ok(Date.now() - started < 1000, "start() does not wait for the broker");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(uploader.isConnected(), false);
  } finally {
    await uploader.stop();
  }
  // No timer may survive stop(): node:test would then wait on this file's process.
});

test("a bandwidth budget is checked by field", () => {
  assert.deepEqual(resolveOptions(base).bandwidth, { kbps: 0 });
  assert.throws(() => resolveOptions({ ...base, bandwidth: { kbps: -5 } }), /bandwidth\.kbps/);
  assert.throws(
    () =>
      resolveOptions({
        ...base,
        bandwidth: { kbps: 64, schedule: [{ from: "25:00", to: "06:00", kbps: 0 }] },
      }),
    /bandwidth\.schedule\[0\]\.from/,
  );
});

test("the signing key must be an Ed25519 private key; manifestAckTimeoutMs is checked by name", () => {
  const ed = generateKeyPairSync("ed25519");
  assert.equal(resolveOptions({ ...base, signingKey: ed.privateKey }).signingKey, ed.privateKey);
  assert.throws(() => resolveOptions({ ...base, signingKey: ed.publicKey }), /signingKey/);
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  assert.throws(() => resolveOptions({ ...base, signingKey: ec.privateKey }), /signingKey/);
  assert.throws(() => resolveOptions({ ...base, manifestAckTimeoutMs: 0 }), /manifestAckTimeoutMs/);
});

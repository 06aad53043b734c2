/**
 * The transfer handlers with a hand-built ReceiverContext (no broker): signature policy, chunk-size
 * negotiation, staging quota, cross-site refusal, a corrupted chunk, the commit's manifest binding,
 * and the commit waiting for chunks another process is still writing.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import {
  type CommitAckMessage,
  type CommitMessage,
  encodeChunk,
  encodeJsonMessage,
  type JsonMessage,
  type ManifestAckMessage,
  type ManifestMessage,
  ProtocolError,
  type SiteAddress,
  signMessage,
  upTopic,
} from "../../uploader/protocol/index.ts";
import { InstanceStore } from "../store/instance-store.ts";
import { PreviewStore } from "../store/preview-store.ts";
import { StudyStore } from "../store/study-store.ts";
import { makeStudy, manifestOf, type TestStudy } from "../testing/box.ts";
import { LogCapture } from "../testing/harness.ts";
import { chunkHandler } from "./chunk-handler.ts";
import { commitHandler } from "./commit-handler.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";
import { manifestHandler } from "./manifest-handler.ts";
import { Staging } from "./staging.ts";

const COUNTY = "county";
const SITE: SiteAddress = { countyId: COUNTY, siteId: "site-k" };
const OTHER: SiteAddress = { countyId: COUNTY, siteId: "site-o" };

interface Fixture {
  dir: string;
  ctx: ReceiverContext;
  logs: LogCapture;
  sent: Array<{ siteId: string; kind: string; message: JsonMessage }>;
  keys: Map<string, KeyObject>;
  manifest: UpHandler;
  chunk: UpHandler;
  commit: UpHandler;
}

let f: Fixture;

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-rc-handlers-"));
  const logs = new LogCapture();
  const keys = new Map<string, KeyObject>();
  const sent: Fixture["sent"] = [];
  const ctx: ReceiverContext = {
    countyId: COUNTY,
    boxes: { verifyKey: (siteId) => keys.get(siteId) },
    requireSignatures: false,
    maxChunkBytes: 256 * 1024,
    stagingQuotaBytes: 8 * 1024 ** 3,
    staging: new Staging(join(dir, "staging"), logs.log),
    studies: await StudyStore.open(join(dir, "studies"), logs.log),
    instances: new InstanceStore(join(dir, "instances")),
    previews: await PreviewStore.open(join(dir, "previews"), logs.log),
    downlink: {
      publish(site, kind, message) {
        sent.push({ siteId: site.siteId, kind, message });
        return true;
      },
    },
    log: logs.log,
  };
  f = {
    dir,
    ctx,
    logs,
    sent,
    keys,
    manifest: manifestHandler(ctx),
    chunk: chunkHandler(ctx),
    // Short waits: in these tests nothing else writes chunks unless a test says so.
    commit: commitHandler(ctx, { settleMs: 300, maxWaitMs: 3000, pollMs: 20 }),
  };
});

afterEach(async () => rm(f.dir, { recursive: true, force: true }));

function lastAck<T extends JsonMessage>(kind: string, transferId: string): T {
  const found = f.sent.findLast(
    (s) => s.kind === kind && (s.message as { transferId?: string }).transferId === transferId,
  );
  assert.ok(found, `a ${kind} for ${transferId}`);
  return found.message as T;
}

async function sendManifest(
  study: TestStudy,
  options: { site?: SiteAddress; key?: KeyObject; chunkSize?: number; transferId?: string } = {},
): Promise<{ transferId: string; ack: ManifestAckMessage }> {
  const site = options.site ?? SITE;
  const transferId = options.transferId ?? `t-${randomUUID()}`;
  let manifest: ManifestMessage = manifestOf(study, transferId, options.chunkSize ?? 4096);
  if (options.key) manifest = signMessage(upTopic(site, "manifest"), manifest, options.key);
  await f.manifest(site, encodeJsonMessage(manifest));
  return { transferId, ack: lastAck<ManifestAckMessage>("manifest-ack", transferId) };
}

async function sendChunks(
  study: TestStudy,
  transferId: string,
  options: { site?: SiteAddress; only?: (index: number, offset: number) => boolean; chunkSize?: number } = {},
): Promise<void> {
  const chunkSize = options.chunkSize ?? 4096;
  for (const [index, instance] of study.instances.entries()) {
    for (let offset = 0; offset < instance.bytes.length; offset += chunkSize) {
      if (options.only && !options.only(index, offset)) continue;
      const data = instance.bytes.subarray(offset, offset + chunkSize);
      await f.chunk(
        options.site ?? SITE,
        encodeChunk({ transferId, sopInstanceUid: instance.descriptor.sopInstanceUid, offset }, data),
      );
    }
  }
}

async function sendCommit(
  study: TestStudy,
  transferId: string,
  options: { site?: SiteAddress; key?: KeyObject; manifestSha256?: string } = {},
): Promise<CommitAckMessage> {
  const site = options.site ?? SITE;
  let commit: CommitMessage = {
    v: 1,
    type: "commit",
    sentAt: new Date().toISOString(),
    transferId,
    studyInstanceUid: study.study.studyInstanceUid,
    instanceCount: study.instances.length,
    ...(options.manifestSha256 ? { manifestSha256: options.manifestSha256 } : {}),
  };
  if (options.key) commit = signMessage(upTopic(site, "commit"), commit, options.key);
  await f.commit(site, encodeJsonMessage(commit));
  return lastAck<CommitAckMessage>("commit-ack", transferId);
}

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ed25519");
}

test("the manifest-ack offers the smaller of the box's chunk size and the county's ceiling", async () => {
  f.ctx.maxChunkBytes = 64 * 1024;
  const study = makeStudy({ sizes: [3000] });
  const { ack } = await sendManifest(study, { chunkSize: 1024 * 1024 });
  assert.equal(ack.status, "ok");
  assert.equal(ack.chunkSize, 64 * 1024);
  assert.deepEqual(ack.held, []);
  // A box offering less than the ceiling keeps its own size.
  assert.equal((await sendManifest(study, { chunkSize: 16 * 1024 })).ack.chunkSize, 16 * 1024);
});

test("a box with a registered key: unsigned or wrongly signed manifests and commits are refused", async () => {
  const box = keyPair();
  const stranger = keyPair();
  f.keys.set(SITE.siteId, box.publicKey);
  const study = makeStudy({ sizes: [5000] });

  const unsigned = await sendManifest(study);
  assert.equal(unsigned.ack.status, "error");
  assert.equal(unsigned.ack.error?.code, "SIGNATURE_MISSING");
  const forged = await sendManifest(study, { key: stranger.privateKey });
  assert.equal(forged.ack.error?.code, "SIGNATURE_INVALID");
  // Signed by the right key but for another site's topic: the signature binds the topic.
  const transferId = `t-${randomUUID()}`;
  const elsewhere = signMessage(
    upTopic(OTHER, "manifest"),
    manifestOf(study, transferId, 4096),
    box.privateKey,
  );
  await f.manifest(SITE, encodeJsonMessage(elsewhere));
  assert.equal(lastAck<ManifestAckMessage>("manifest-ack", transferId).error?.code, "SIGNATURE_INVALID");
  // Nothing of the refused manifests was staged: their chunks have no transfer to go to.
  assert.deepEqual(await readdir(join(f.dir, "staging")).catch(() => []), []);
  for (const code of ["SIGNATURE_MISSING", "SIGNATURE_INVALID"]) {
    assert.ok(f.logs.lines.some((l) => l.level === 40 && l.code === code && l.siteId === SITE.siteId));
  }

  const signed = await sendManifest(study, { key: box.privateKey });
  assert.equal(signed.ack.status, "ok");
  await sendChunks(study, signed.transferId);
  const noSignature = await sendCommit(study, signed.transferId);
  assert.equal(noSignature.status, "error");
  assert.equal(noSignature.error?.code, "SIGNATURE_MISSING");
  const badSignature = await sendCommit(study, signed.transferId, { key: stranger.privateKey });
  assert.equal(badSignature.error?.code, "SIGNATURE_INVALID");
  assert.equal(
    f.ctx.studies.get({ siteId: SITE.siteId, studyInstanceUid: study.study.studyInstanceUid }),
    undefined,
  );

  const good = await sendCommit(study, signed.transferId, { key: box.privateKey });
  assert.equal(good.status, "ok");
  assert.deepEqual(good.stored, [study.instances[0]!.descriptor.sopInstanceUid]);
});

test("requireSignatures: a site without a registered key is UNKNOWN_BOX; without it, unsigned is accepted", async () => {
  const study = makeStudy({ sizes: [2000] });
  const open = await sendManifest(study);
  assert.equal(open.ack.status, "ok");

  f.ctx.requireSignatures = true;
  const refused = await sendManifest(study);
  assert.equal(refused.ack.status, "error");
  assert.equal(refused.ack.error?.code, "UNKNOWN_BOX");
  // Even a commit for the transfer accepted before is refused now.
  await sendChunks(study, open.transferId);
  const commit = await sendCommit(study, open.transferId);
  assert.equal(commit.error?.code, "UNKNOWN_BOX");

  // With a registered key and required signatures, a missing signature is SIGNATURE_MISSING.
  f.keys.set(SITE.siteId, keyPair().publicKey);
  assert.equal((await sendManifest(study)).ack.error?.code, "SIGNATURE_MISSING");
});

test("a commit must close the manifest received (manifestSha256) when it names one", async () => {
  const study = makeStudy({ sizes: [2500] });
  const { transferId } = await sendManifest(study);
  await sendChunks(study, transferId);
  const wrong = await sendCommit(study, transferId, { manifestSha256: "0".repeat(64) });
  assert.equal(wrong.status, "error");
  assert.equal(wrong.error?.code, "COMMIT_MISMATCH");
  const record = await f.ctx.staging.read(SITE.siteId, transferId);
  const right = await sendCommit(study, transferId, { manifestSha256: record!.manifestSha256 });
  assert.equal(right.status, "ok");
});

test("staging quota: a manifest whose missing bytes do not fit is refused with retryAfterMs; chunks past it are dropped", async () => {
  f.ctx.stagingQuotaBytes = 12_000;
  const first = makeStudy({ sizes: [8000] });
  const a = await sendManifest(first);
  assert.equal(a.ack.status, "ok");
  await sendChunks(first, a.transferId);
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId), 8000);

  const second = makeStudy({ sizes: [6000] });
  const refused = await sendManifest(second);
  assert.equal(refused.ack.status, "error");
  assert.equal(refused.ack.error?.code, "QUOTA_EXCEEDED");
  assert.ok((refused.ack.retryAfterMs ?? 0) > 0);
  // Another site's staging is not this box's quota.
  assert.equal((await sendManifest(second, { site: OTHER })).ack.status, "ok");

  // Chunks of an accepted transfer that no longer fit (the quota shrank meanwhile) are dropped.
  f.ctx.stagingQuotaBytes = 100_000;
  const third = makeStudy({ sizes: [3000] });
  const c = await sendManifest(third);
  assert.equal(c.ack.status, "ok");
  f.ctx.stagingQuotaBytes = 9000;
  await sendChunks(third, c.transferId);
  assert.equal(f.logs.find("chunk dropped", { code: "QUOTA_EXCEEDED" }).length, 1);
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId, Date.now() + 60_000), 8000);

  // Once the first study is stored its staging is freed, and the second fits.
  assert.equal((await sendCommit(first, a.transferId)).status, "ok");
  f.ctx.stagingQuotaBytes = 12_000;
  assert.equal((await sendManifest(second)).ack.status, "ok");
});

test("a chunk or commit naming another site's transfer is refused and logged CROSS_SITE", async () => {
  const study = makeStudy({ sizes: [3000] });
  const { transferId } = await sendManifest(study, { site: OTHER });
  await sendChunks(study, transferId, { site: OTHER });
  const before = await f.ctx.staging.stagedBytes(OTHER.siteId, Date.now() + 60_000);
  await sendChunks(study, transferId, { site: SITE });
  const warned = f.logs.find("chunk refused", { code: "CROSS_SITE", siteId: SITE.siteId });
  assert.equal(warned.length, 1);
  assert.equal(warned[0]!.level, 40);
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId), 0);
  assert.equal(await f.ctx.staging.stagedBytes(OTHER.siteId, Date.now() + 60_000), before);

  const commit = await sendCommit(study, transferId, { site: SITE });
  assert.equal(commit.status, "error");
  assert.equal(commit.error?.code, "UNKNOWN_TRANSFER");
  assert.equal(f.logs.find("commit refused", { code: "CROSS_SITE", siteId: SITE.siteId }).length, 1);
  assert.equal(f.ctx.studies.findByUid(study.study.studyInstanceUid).length, 0);
  // The owner's transfer is untouched.
  assert.equal((await sendCommit(study, transferId, { site: OTHER })).status, "ok");
});

test("a chunk corrupted on the way is refused, and its range is not listed as held", async () => {
  const study = makeStudy({ sizes: [10_000] });
  const { transferId } = await sendManifest(study);
  const instance = study.instances[0]!;
  const data = Buffer.from(instance.bytes.subarray(4096, 8192));
  const header = { transferId, sopInstanceUid: instance.descriptor.sopInstanceUid, offset: 4096 };
  const good = encodeChunk(header, data);
  // Flip a data byte after the header's SHA-256 was taken (the last byte of the payload is data).
  const damaged = Buffer.from(good);
  damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 0x01;
  await assert.rejects(
    f.chunk(SITE, damaged),
    (e: unknown) => (e as ProtocolError).code === "PROTO_CHUNK_CORRUPT",
  );
  await sendChunks(study, transferId, { only: (_i, offset) => offset !== 4096 });

  const again = await sendManifest(study);
  assert.deepEqual(again.ack.held, [
    [0, 0, 4096],
    [0, 8192, 10_000],
  ]);
});

test("the commit waits for chunks another process is still writing", async () => {
  const study = makeStudy({ sizes: [9000, 5000] });
  const { transferId } = await sendManifest(study);
  await sendChunks(study, transferId, { only: (index, offset) => !(index === 0 && offset === 8192) });
  // A chunk worker (its own Staging on the same directory) lands the last chunk while the commit waits.
  const worker = new Staging(join(f.dir, "staging"), f.logs.log);
  const late = study.instances[0]!;
  const commit = sendCommit(study, transferId);
  setTimeout(() => {
    const data = Buffer.from(late.bytes.subarray(8192));
    const chunk = encodeChunk(
      { transferId, sopInstanceUid: late.descriptor.sopInstanceUid, offset: 8192 },
      data,
    );
    void worker.get(SITE.siteId, transferId).then(async (transfer) => {
      assert.ok(transfer);
      await chunkHandler({ ...f.ctx, staging: worker })(SITE, chunk);
    });
  }, 100);
  const ack = await commit;
  assert.equal(ack.status, "ok");
  assert.equal(ack.stored.length, 2);
});

test("a commit with ranges that never come answers INCOMPLETE after a bounded wait, keeping what is staged", async () => {
  const study = makeStudy({ sizes: [9000] });
  const { transferId } = await sendManifest(study);
  await sendChunks(study, transferId, { only: (_i, offset) => offset === 0 });
  const ack = await sendCommit(study, transferId);
  assert.equal(ack.status, "error");
  assert.equal(ack.error?.code, "INCOMPLETE");
  assert.deepEqual(ack.missing, [study.instances[0]!.descriptor.sopInstanceUid]);
  // The next attempt is told what is held.
  assert.deepEqual((await sendManifest(study)).ack.held, [[0, 0, 4096]]);
  // The same commit again (an MQTT redelivery) is answered the same way.
  assert.equal((await sendCommit(study, transferId)).error?.code, "INCOMPLETE");
});

test("an instance already stored is held whole; chunks of it that came late are dropped from staging", async () => {
  const study = makeStudy({ sizes: [5000, 3000] });
  const old = await sendManifest(study);
  const { transferId } = await sendManifest(study);
  await sendChunks(study, transferId);
  assert.equal((await sendCommit(study, transferId)).status, "ok");
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId, Date.now() + 60_000), 0);
  // A late duplicate from the abandoned attempt lands in staging again...
  await sendChunks(study, old.transferId, { only: (index) => index === 0 });
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId, Date.now() + 60_000), 5000);
  // ...and the next manifest, told both instances are held, clears it.
  const again = await sendManifest(study);
  assert.deepEqual(again.ack.held, [
    [0, 0, 5000],
    [1, 0, 3000],
  ]);
  assert.equal(await f.ctx.staging.stagedBytes(SITE.siteId, Date.now() + 60_000), 0);
});

test("a manifest that breaks the protocol is dropped as malformed and, when addressable, answered MANIFEST_INVALID", async () => {
  const study = makeStudy({ sizes: [1000, 1000] });
  const twice = manifestOf(study, "t-twice", 4096);
  twice.instances[1] = { ...twice.instances[0]! };
  await assert.rejects(
    f.manifest(SITE, encodeJsonMessage(twice)),
    (e: unknown) => e instanceof ProtocolError,
  );
  const ack = lastAck<ManifestAckMessage>("manifest-ack", "t-twice");
  assert.equal(ack.status, "error");
  assert.equal(ack.error?.code, "MANIFEST_INVALID");

  const invalid = { ...manifestOf(study, "t-schema", 4096), chunkSize: 10 };
  await assert.rejects(f.manifest(SITE, Buffer.from(JSON.stringify(invalid))), { code: "PROTO_INVALID" });
  assert.equal(lastAck<ManifestAckMessage>("manifest-ack", "t-schema").error?.code, "MANIFEST_INVALID");
  // Not even a transfer id to answer to: nothing is sent.
  const before = f.sent.length;
  await assert.rejects(f.manifest(SITE, Buffer.from("{nope")), { code: "PROTO_BAD_JSON" });
  assert.equal(f.sent.length, before);
  assert.equal(await f.ctx.staging.read(SITE.siteId, "t-twice"), undefined);
});

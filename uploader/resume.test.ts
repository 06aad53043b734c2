import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { DxgateError } from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import { CommitAckRegistry } from "./commit-acks.ts";
import { UPLOAD_ERRORS } from "./errors.ts";
import {
  decodeJsonMessage,
  downWildcard,
  encodeJsonMessage,
  MAX_PREVIEW_BYTES,
  parseTopic,
  upTopic,
  verifyMessage,
} from "./protocol/index.ts";
import { Session } from "./session.ts";
import { makeStudy } from "./test-support/fixtures.ts";
import { BOX_CLIENT_ID, SITE, type World, world } from "./test-support/harness.ts";
import { type TransferDeps, transferStudy } from "./transfer.ts";

const KIB16 = 16 * 1024;

/** Parsed JSON log lines with this message. */
function logged(w: World, msg: string): Array<Record<string, unknown>> {
  return w.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === msg);
}

function chunksOf(w: World, transferId: string) {
  return w.peer.of("chunk").filter((e) => e.transferId === transferId);
}

/** A bare session and ack registry on the world's broker, to drive transferStudy directly. */
async function rig(w: World, overrides: Partial<TransferDeps> = {}) {
  const log = silentLogger();
  const session = new Session({
    brokerUrl: w.broker.url,
    clientId: BOX_CLIENT_ID,
    will: () => ({
      topic: upTopic(SITE, "status"),
      payload: encodeJsonMessage({ v: 1, type: "status", sentAt: new Date().toISOString(), online: false }),
    }),
    subscriptions: [downWildcard(SITE)],
    reconnect: { baseMs: 20, maxMs: 200 },
    keepaliveSeconds: 30,
    connectTimeoutMs: 2000,
    log,
  });
  const acks = new CommitAckRegistry();
  session.on("message", (topic, payload) => {
    const parsed = parseTopic(topic);
    if (parsed?.direction === "down" && (parsed.kind === "commit-ack" || parsed.kind === "manifest-ack")) {
      acks.deliver(decodeJsonMessage(payload, parsed.kind));
    }
  });
  const connected = once(session, "connected");
  session.start();
  await connected;
  const deps: TransferDeps = {
    session,
    acks,
    site: SITE,
    log,
    chunkSize: KIB16,
    window: 4,
    ackTimeoutMs: 2000,
    manifestAckTimeoutMs: 2000,
    sendPreviews: false,
    maxPreviewBytes: MAX_PREVIEW_BYTES,
    ...overrides,
  };
  return { deps, close: () => session.stop() };
}

test("resume: after chunks were lost, the retry sends only what the county does not hold", async () => {
  const w = await world({}, true);
  try {
    const big = KIB16 * 6 + 100;
    const { outbound, bytes } = await makeStudy(w.dir.path, [5000, big]);
    const uid = outbound.study.studyInstanceUid;
    const bigUid = outbound.instances[1]!.sopInstanceUid;
    // The first attempt's chunks of the big instance from 32 KiB on are lost on the way.
    let firstTransfer: string | undefined;
    w.peer.dropChunk = (chunk) => {
      firstTransfer ??= chunk.transferId;
      return (
        chunk.transferId === firstTransfer && chunk.sopInstanceUid === bigUid && chunk.offset >= 2 * KIB16
      );
    };
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    assert.equal(w.queue.of("failed").length, 1, "the first attempt ends INCOMPLETE");
    const [first, second] = w.peer.of("manifest").map((e) => e.message.transferId);
    assert.equal(chunksOf(w, first!).length, 1 + 7, "the first attempt sent everything");
    const ack = w.peer.of("manifest-ack").find((e) => e.message.transferId === second)!.message;
    assert.deepEqual(ack.held, [
      [0, 0, 5000],
      [1, 0, 2 * KIB16],
    ]);
    const resent = chunksOf(w, second!);
    assert.deepEqual(
      resent.map((c) => [c.sopInstanceUid, c.offset, c.bytes]),
      [
        [bigUid, 2 * KIB16, KIB16],
        [bigUid, 3 * KIB16, KIB16],
        [bigUid, 4 * KIB16, KIB16],
        [bigUid, 5 * KIB16, KIB16],
        [bigUid, 6 * KIB16, 100],
      ],
      "only the missing ranges, aligned as in a full send",
    );
    for (const [sop, data] of bytes) assert.ok(w.peer.stored.get(uid)?.get(sop)?.equals(data));
    const done = logged(w, "study acknowledged by the reading centre");
    assert.equal(done.length, 1);
    assert.equal(done[0]!.sentBytes, big - 2 * KIB16);
    assert.equal(done[0]!.heldBytes, 5000 + 2 * KIB16);
    assert.equal(done[0]!.negotiated, true);
  } finally {
    await w.close();
  }
});

test("the county's smaller chunk size is used for every chunk", async () => {
  const w = await world();
  try {
    w.peer.maxChunkBytes = 4096;
    const size = 4096 * 5 + 7;
    const { outbound, bytes } = await makeStudy(w.dir.path, [size]);
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered");

    assert.equal(w.peer.of("manifest")[0]!.message.chunkSize, KIB16, "the box offers its own size");
    assert.equal(w.peer.of("manifest-ack")[0]!.message.chunkSize, 4096);
    assert.deepEqual(
      w.peer.of("chunk").map((c) => [c.offset, c.bytes]),
      [0, 1, 2, 3, 4].map((i) => [i * 4096, 4096]).concat([[5 * 4096, 7]]),
    );
    assert.ok(
      w.peer.stored
        .get(outbound.study.studyInstanceUid)
        ?.get(outbound.instances[0]!.sopInstanceUid)
        ?.equals([...bytes.values()][0]!),
    );
  } finally {
    await w.close();
  }
});

test("a refusing manifest-ack fails the attempt with UPLOAD_REFUSED and retryAfterMs; no chunk goes", async () => {
  const w = await world();
  const { deps, close } = await rig(w);
  try {
    w.peer.manifestAck = () => ({ kind: "error", code: "QUOTA_EXCEEDED", retryAfterMs: 60_000 });
    const { outbound } = await makeStudy(w.dir.path, [40_000]);
    await assert.rejects(transferStudy(deps, outbound, new AbortController().signal), (error) => {
      assert.ok(error instanceof DxgateError);
      assert.equal(error.code, UPLOAD_ERRORS.refused);
      assert.match(error.message, /QUOTA_EXCEEDED/);
      assert.equal(error.details?.retryAfterMs, 60_000);
      assert.equal(error.details?.countyCode, "QUOTA_EXCEEDED");
      return true;
    });
    assert.equal(w.peer.of("chunk").length, 0);
    assert.equal(w.peer.of("commit").length, 0);
  } finally {
    await close();
    await w.close();
  }
});

test("a manifest-ack asking for chunks larger than offered, or listing an unknown instance, is a protocol error", async () => {
  const w = await world();
  const { deps, close } = await rig(w);
  try {
    const { outbound } = await makeStudy(w.dir.path, [40_000]);
    w.peer.manifestAck = () => ({ kind: "ok", chunkSize: 2 * KIB16 });
    await assert.rejects(transferStudy(deps, outbound, new AbortController().signal), {
      code: UPLOAD_ERRORS.badManifestAck,
    });
    w.peer.manifestAck = () => ({ kind: "ok", held: [[3, 0, 10]] });
    await assert.rejects(transferStudy(deps, outbound, new AbortController().signal), {
      code: UPLOAD_ERRORS.badManifestAck,
    });
    assert.equal(w.peer.of("chunk").length, 0);
  } finally {
    await close();
    await w.close();
  }
});

test("no manifest-ack (an older county): after the timeout the whole study goes at the box's size, warned once", async () => {
  const w = await world({ manifestAckTimeoutMs: 150 }, true);
  try {
    w.peer.manifestAck = () => ({ kind: "silent" });
    const a = await makeStudy(w.dir.path, [KIB16 * 2 + 1]);
    const b = await makeStudy(w.dir.path, [3000]);
    w.queue.add(a.outbound);
    w.queue.add(b.outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === a.outbound.study.studyInstanceUid);
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === b.outbound.study.studyInstanceUid);

    assert.equal(w.queue.of("failed").length, 0);
    assert.deepEqual(
      w.peer.of("chunk").map((c) => c.bytes),
      [KIB16, KIB16, 1, 3000],
    );
    const warnings = w.logLines.filter((line) => line.includes("no manifest-ack from the reading centre"));
    assert.equal(warnings.length, 2, "one line per study");
    assert.equal(warnings.filter((line) => line.includes('"level":40')).length, 1, "only the first at warn");
    const done = logged(w, "study acknowledged by the reading centre");
    assert.deepEqual(
      done.map((d) => [d.negotiated, d.heldBytes]),
      [
        [false, 0],
        [false, 0],
      ],
    );
  } finally {
    await w.close();
  }
});

test("with a signing key, manifest and commit carry valid signatures; the commit names the manifest's SHA-256", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const w = await world({ signingKey: privateKey });
  try {
    const { outbound } = await makeStudy(w.dir.path, [20_000]);
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered");

    const manifest = w.peer.of("manifest")[0]!;
    const commit = w.peer.of("commit")[0]!.message;
    assert.equal(verifyMessage(upTopic(SITE, "manifest"), manifest.message, publicKey), "valid");
    assert.equal(verifyMessage(upTopic(SITE, "commit"), commit, publicKey), "valid");
    assert.equal(
      verifyMessage(upTopic({ ...SITE, siteId: "s2" }, "manifest"), manifest.message, publicKey),
      "invalid",
      "bound to the box's own topic",
    );
    assert.equal(commit.manifestSha256, createHash("sha256").update(manifest.payload).digest("hex"));
  } finally {
    await w.close();
  }
});

test("without a signing key nothing is signed, and the commit still names the manifest", async () => {
  const w = await world();
  try {
    const { outbound } = await makeStudy(w.dir.path, [2000]);
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered");
    const manifest = w.peer.of("manifest")[0]!;
    const commit = w.peer.of("commit")[0]!.message;
    assert.equal(manifest.message.signature, undefined);
    assert.equal(commit.signature, undefined);
    assert.equal(commit.manifestSha256, createHash("sha256").update(manifest.payload).digest("hex"));
  } finally {
    await w.close();
  }
});

test("a yield at a chunk boundary drains the window and throws UPLOAD_PREEMPTED; the next attempt resumes", async () => {
  const w = await world();
  let boundaries = 0;
  const { deps, close } = await rig(w, {
    atChunkBoundary: async () => {
      boundaries += 1;
      return boundaries > 3 ? "yield" : "continue";
    },
  });
  try {
    const size = KIB16 * 8;
    const { outbound, bytes } = await makeStudy(w.dir.path, [size]);
    const uid = outbound.study.studyInstanceUid;
    await assert.rejects(transferStudy(deps, outbound, new AbortController().signal), (error) => {
      assert.ok(error instanceof DxgateError);
      assert.equal(error.code, UPLOAD_ERRORS.preempted);
      assert.equal(error.details?.sentBytes, 3 * KIB16);
      return true;
    });
    const first = w.peer.of("manifest")[0]!.message.transferId;
    // Every chunk published before the yield was acknowledged by the broker; the county gets them.
    await w.peer.waitFor("chunk", () => chunksOf(w, first).length === 3);
    assert.equal(w.peer.of("commit").length, 0);

    const result = await transferStudy(
      { ...deps, atChunkBoundary: async () => "continue" },
      outbound,
      new AbortController().signal,
    );
    assert.equal(result.sentBytes, 5 * KIB16);
    assert.equal(result.heldBytes, 3 * KIB16);
    assert.equal(result.bytes, size);
    assert.deepEqual(
      chunksOf(w, result.transferId).map((c) => c.offset),
      [3, 4, 5, 6, 7].map((i) => i * KIB16),
    );
    assert.ok(
      w.peer.stored
        .get(uid)
        ?.get(outbound.instances[0]!.sopInstanceUid)
        ?.equals([...bytes.values()][0]!),
    );
  } finally {
    await close();
    await w.close();
  }
});

test("an instance the county holds whole is not sent, but its file is still hashed before the commit", async () => {
  const w = await world();
  const { deps, close } = await rig(w);
  try {
    const { outbound } = await makeStudy(w.dir.path, [30_000]);
    w.peer.manifestAck = () => ({ kind: "ok", held: [[0, 0, 30_000]] });
    // Same size, other bytes: the box's file changed since its descriptor was made.
    await writeFile(outbound.instances[0]!.path, Buffer.alloc(30_000, 7));
    await assert.rejects(transferStudy(deps, outbound, new AbortController().signal), {
      code: UPLOAD_ERRORS.hashMismatch,
    });
    assert.equal(w.peer.of("chunk").length, 0);
    assert.equal(w.peer.of("commit").length, 0, "a changed file is never committed");
  } finally {
    await close();
    await w.close();
  }
});

/**
 * `up/manifest`: a box announces a transfer (one upload attempt of one study). The county checks
 * the box's signature and its staging quota, makes the manifest durable in staging, and answers with
 * a `manifest-ack`: the chunk size to use and the byte ranges it already holds of each instance
 * (from earlier attempts' staged chunks, or whole instances already stored for this study), so the
 * box sends only what is missing. The record is durable before the ack goes out, so chunks that
 * follow have a home even across a restart of the reading centre.
 *
 * A box that does not wait for the ack (older boxes) simply sends everything; that works too.
 */
import { createHash } from "node:crypto";
import {
  decodeJsonMessage,
  type HeldRange,
  MAX_CHUNK_BYTES,
  MAX_HELD_RANGES,
  type ManifestAckMessage,
  type ManifestMessage,
  MIN_CHUNK_BYTES,
  ProtocolError,
  type SiteAddress,
} from "../../uploader/protocol/index.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";
import { checkSignature } from "./signature-policy.ts";
import { contentDirName } from "./staging.ts";

/** Manifest-ack refusal codes beyond the signature ones (signature-policy.ts). */
export const MANIFEST_ERRORS = {
  /** Staging this study would take the box past its staging quota; try again after `retryAfterMs`. */
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  /** The manifest breaks the protocol (schema, an instance listed twice). */
  MANIFEST_INVALID: "MANIFEST_INVALID",
} as const;

/** When a box over its quota should ask again: the sweep or its other commits free space meanwhile. */
export const QUOTA_RETRY_AFTER_MS = 5 * 60 * 1000;

export function manifestHandler(ctx: ReceiverContext): UpHandler {
  return async (site, payload) => {
    let manifest: ManifestMessage;
    try {
      manifest = decodeJsonMessage(payload, "manifest");
      const uids = new Set(manifest.instances.map((i) => i.sopInstanceUid));
      if (uids.size !== manifest.instances.length) {
        throw new ProtocolError("PROTO_INVALID", "manifest lists an instance twice");
      }
    } catch (error) {
      // Tell a box that is waiting for the ack, when enough of the manifest is readable to address it.
      if (error instanceof ProtocolError) refuseUnreadable(ctx, site, payload, error);
      throw error;
    }
    const chunkSize = negotiatedChunkSize(ctx, manifest.chunkSize);
    const refuse = (code: string, message: string, retryAfterMs?: number) =>
      publishAck(ctx, site, {
        ...ackBase(manifest, chunkSize),
        status: "error",
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        error: { code, message },
      });

    const signature = checkSignature(ctx, site, "manifest", manifest);
    if (signature) return refuse(signature.code, signature.message);

    const { held, heldBytes } = await heldRanges(ctx, site.siteId, manifest);
    const totalBytes = manifest.instances.reduce((sum, i) => sum + i.size, 0);
    const missingBytes = totalBytes - heldBytes;
    const staged = await ctx.staging.stagedBytes(site.siteId);
    if (staged + missingBytes > ctx.stagingQuotaBytes) {
      ctx.log.warn(
        {
          siteId: site.siteId,
          transferId: manifest.transferId,
          code: MANIFEST_ERRORS.QUOTA_EXCEEDED,
          staged,
          missingBytes,
          quota: ctx.stagingQuotaBytes,
        },
        "manifest refused: staging quota",
      );
      return refuse(
        MANIFEST_ERRORS.QUOTA_EXCEEDED,
        `staging ${missingBytes} more bytes would exceed this box's quota`,
        QUOTA_RETRY_AFTER_MS,
      );
    }

    const manifestSha256 = createHash("sha256").update(payload).digest("hex");
    const { outcome } = await ctx.staging.begin(site.siteId, manifest, manifestSha256);
    ctx.log.info(
      {
        siteId: site.siteId,
        transferId: manifest.transferId,
        studyInstanceUid: manifest.study.studyInstanceUid,
        instances: manifest.instances.length,
        bytes: totalBytes,
        heldBytes,
        chunkSize,
        outcome,
      },
      "transfer started",
    );
    publishAck(ctx, site, { ...ackBase(manifest, chunkSize), status: "ok", held });
  };
}

/** The box's offer, capped by the county's ceiling, within what the protocol allows. */
export function negotiatedChunkSize(ctx: Pick<ReceiverContext, "maxChunkBytes">, offered: number): number {
  const ceiling = Math.max(MIN_CHUNK_BYTES, Math.min(MAX_CHUNK_BYTES, Math.floor(ctx.maxChunkBytes)));
  return Math.max(MIN_CHUNK_BYTES, Math.min(offered, ceiling));
}

/**
 * What the county holds of each instance: `[i, 0, size]` for an instance this site's study already
 * has stored with the same content, else the ranges of its staged chunks. At most MAX_HELD_RANGES
 * (the largest are kept: the box sends what is not listed, so listing fewer is only less saving).
 */
async function heldRanges(
  ctx: ReceiverContext,
  siteId: string,
  manifest: ManifestMessage,
): Promise<{ held: HeldRange[]; heldBytes: number }> {
  const study = ctx.studies.get({ siteId, studyInstanceUid: manifest.study.studyInstanceUid });
  const stored = new Map((study?.instances ?? []).map((i) => [i.sopInstanceUid, i.sha256]));
  const stagedDirs = await ctx.staging.contentDirNames(siteId);
  let held: HeldRange[] = [];
  for (const [index, instance] of manifest.instances.entries()) {
    if (
      stored.get(instance.sopInstanceUid) === instance.sha256 &&
      (await ctx.instances.has(instance.sha256, instance.size))
    ) {
      held.push([index, 0, instance.size]);
      // Chunks that came in after it was stored (a late duplicate) would only count against the quota.
      if (stagedDirs.has(contentDirName(instance))) await ctx.staging.removeContent(siteId, instance);
      continue;
    }
    if (!stagedDirs.has(contentDirName(instance))) continue;
    for (const [start, end] of await ctx.staging.held(siteId, instance)) held.push([index, start, end]);
  }
  if (held.length > MAX_HELD_RANGES) {
    held = held
      .sort((a, b) => b[2] - b[1] - (a[2] - a[1]))
      .slice(0, MAX_HELD_RANGES)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }
  // Ranges of one instance are merged and disjoint, so per-instance sums are exact.
  const heldBytes = held.reduce((sum, [, start, end]) => sum + (end - start), 0);
  return { held, heldBytes };
}

function ackBase(manifest: ManifestMessage, chunkSize: number) {
  return {
    v: 1 as const,
    type: "manifest-ack" as const,
    sentAt: new Date().toISOString(),
    transferId: manifest.transferId,
    studyInstanceUid: manifest.study.studyInstanceUid,
    chunkSize,
    held: [] as HeldRange[],
  };
}

function publishAck(ctx: ReceiverContext, site: SiteAddress, ack: ManifestAckMessage): void {
  const sent = ctx.downlink.publish(site, "manifest-ack", ack);
  ctx.log.info(
    {
      siteId: site.siteId,
      transferId: ack.transferId,
      studyInstanceUid: ack.studyInstanceUid,
      status: ack.status,
      code: ack.error?.code,
      chunkSize: ack.chunkSize,
      heldRanges: ack.held.length,
      sent,
    },
    "manifest answered",
  );
}

/** A MANIFEST_INVALID ack for a manifest that failed decoding, if its transfer id and study UID can be read. */
function refuseUnreadable(
  ctx: ReceiverContext,
  site: SiteAddress,
  payload: Buffer,
  error: ProtocolError,
): void {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    return;
  }
  const v = value as { transferId?: unknown; study?: { studyInstanceUid?: unknown }; chunkSize?: unknown };
  const transferId = v?.transferId;
  const studyInstanceUid = v?.study?.studyInstanceUid;
  if (
    typeof transferId !== "string" ||
    transferId.length < 1 ||
    transferId.length > 128 ||
    typeof studyInstanceUid !== "string" ||
    !/^[0-9]+(\.[0-9]+)*$/.test(studyInstanceUid) ||
    studyInstanceUid.length > 64
  ) {
    return;
  }
  const offered =
    typeof v.chunkSize === "number" && Number.isInteger(v.chunkSize) ? v.chunkSize : MAX_CHUNK_BYTES;
  publishAck(ctx, site, {
    v: 1,
    type: "manifest-ack",
    sentAt: new Date().toISOString(),
    transferId,
    studyInstanceUid,
    status: "error",
    chunkSize: negotiatedChunkSize(ctx, offered),
    held: [],
    error: { code: MANIFEST_ERRORS.MANIFEST_INVALID, message: error.message.slice(0, 1000) },
  });
}

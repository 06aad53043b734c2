/**
 * `up/chunk`: a slice of one instance's Part 10 file, staged as its own chunk file under the
 * instance's content (staging.ts). Its SHA-256 was checked by `decodeChunk` (a corrupted chunk never
 * gets here: it is dropped as malformed and its range stays missing).
 *
 * A chunk that does not fit its transfer's manifest, names a transfer the site does not have, or
 * would take the box past its staging quota is dropped with a warning: the commit then finds the
 * range missing and the box resends it. Transfers are only ever looked up under the topic's site;
 * one staged under another site is CROSS_SITE, logged and refused.
 */
import { createHash } from "node:crypto";
import { decodeChunk } from "../../uploader/protocol/index.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";

export function chunkHandler(ctx: ReceiverContext): UpHandler {
  return async (site, payload) => {
    const chunk = decodeChunk(payload);
    const fields = {
      siteId: site.siteId,
      transferId: chunk.transferId,
      sopInstanceUid: chunk.sopInstanceUid,
    };
    const transfer = await ctx.staging.get(site.siteId, chunk.transferId);
    if (!transfer) {
      const holder = await ctx.staging.siteHolding(site.siteId, chunk.transferId);
      if (holder !== undefined) {
        ctx.log.warn({ ...fields, code: "CROSS_SITE", otherSiteId: holder }, "chunk refused");
      } else {
        ctx.log.warn({ ...fields, code: "UNKNOWN_TRANSFER" }, "chunk dropped");
      }
      return;
    }
    const descriptor = transfer.instances.get(chunk.sopInstanceUid);
    if (descriptor === undefined) {
      ctx.log.warn({ ...fields, code: "NOT_IN_MANIFEST" }, "chunk dropped");
      return;
    }
    const { size } = descriptor;
    if (chunk.offset + chunk.data.length > size) {
      ctx.log.warn(
        { ...fields, code: "OUT_OF_RANGE", offset: chunk.offset, length: chunk.data.length, size },
        "chunk dropped",
      );
      return;
    }
    const staged = await ctx.staging.stagedBytes(site.siteId);
    if (staged + chunk.data.length > ctx.stagingQuotaBytes) {
      ctx.log.warn(
        { ...fields, code: "QUOTA_EXCEEDED", staged, quota: ctx.stagingQuotaBytes },
        "chunk dropped",
      );
      return;
    }
    // Boxes before per-chunk hashes send none; the file name then records the county's own.
    const sha256 = chunk.sha256 ?? createHash("sha256").update(chunk.data).digest("hex");
    await ctx.staging.writeChunk(site.siteId, descriptor, chunk.offset, chunk.data, sha256);
  };
}

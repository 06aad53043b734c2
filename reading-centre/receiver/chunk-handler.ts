/**
 * `up/chunk`: a slice of one instance's Part 10 file, written at its offset into staging. A chunk
 * that does not fit its transfer's manifest is dropped with a warning: the commit's verification
 * then reports the instance missing, and the box resends it.
 */
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
    const transfer = ctx.staging.get(site.siteId, chunk.transferId);
    if (!transfer) {
      ctx.log.warn({ ...fields, code: "UNKNOWN_TRANSFER" }, "chunk dropped");
      return;
    }
    const size = transfer.sizes.get(chunk.sopInstanceUid);
    if (size === undefined) {
      ctx.log.warn({ ...fields, code: "NOT_IN_MANIFEST" }, "chunk dropped");
      return;
    }
    if (chunk.offset + chunk.data.length > size) {
      ctx.log.warn(
        { ...fields, code: "OUT_OF_RANGE", offset: chunk.offset, length: chunk.data.length, size },
        "chunk dropped",
      );
      return;
    }
    await ctx.staging.write(transfer, chunk.sopInstanceUid, chunk.offset, chunk.data);
  };
}

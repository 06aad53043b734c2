/**
 * `up/preview`: a small image of a study (an ECG's 12-lead sheet, later ultrasound / DR thumbnails)
 * that a box sends before the study's manifest, so the county sees it first.
 *
 * - Decoding verifies everything (layout, header, size, SHA-256, media type); a forged or damaged
 *   preview is a ProtocolError, which the receiver logs with its code and drops.
 * - It is stored durably under the site of the topic it came on, never another's: a box cannot
 *   replace or add to another box's previews, even for a study UID that box also sent.
 * - It is kept whether or not the study has arrived; the study record, once its commit is stored,
 *   finds its previews by the same (siteId, studyInstanceUid).
 * - Nothing is answered: a preview is fire-and-forget at QoS 1. The commit-ack of the full data stays
 *   the only application-level acknowledgement.
 */
import { decodePreview } from "../../uploader/protocol/index.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";

export function previewHandler(ctx: ReceiverContext): UpHandler {
  return async (site, payload) => {
    const preview = decodePreview(payload);
    const key = { siteId: site.siteId, studyInstanceUid: preview.studyInstanceUid };
    const fields = {
      siteId: site.siteId,
      studyInstanceUid: preview.studyInstanceUid,
      previewId: preview.previewId,
    };
    const studyKnown = ctx.studies.get(key) !== undefined;
    if (!studyKnown) {
      const others = ctx.studies.findByUid(preview.studyInstanceUid).map((s) => s.siteId);
      if (others.length > 0) {
        // Not attached to the other site's study: it waits under its own site for that site's study.
        ctx.log.warn(
          { ...fields, otherSites: others, code: "PREVIEW_OTHER_SITE" },
          "preview for a study UID known only from another site; kept apart under its own site",
        );
      }
    }
    const outcome = await ctx.previews.put(site.siteId, preview);
    if (outcome === "limit") {
      ctx.log.warn({ ...fields, code: "PREVIEW_LIMIT" }, "preview dropped: the study has too many previews");
      return;
    }
    ctx.log.info(
      { ...fields, mediaType: preview.mediaType, bytes: preview.size, outcome, studyKnown },
      "preview stored",
    );
  };
}

/**
 * Whether a signed upward message (manifest, commit) may be acted on, by the county's policy:
 *
 * - the box has a registered key → the signature must be there and valid, whatever the setting;
 * - no key known and `requireSignatures` → refused as UNKNOWN_BOX (unknown or disabled box);
 * - no key known and signatures not required → accepted (a county that has not registered boxes yet).
 *
 * The signature covers the topic, so a message signed for one site is worthless on another's.
 */
import { type SiteAddress, upTopic, verifyMessage } from "../../uploader/protocol/index.ts";
import type { ReceiverContext } from "./context.ts";

/** The refusal codes, sent to the box in the manifest-ack's or commit-ack's `error.code`. */
export const SIGNATURE_ERRORS = {
  /** The county knows the box's key but the message carries no signature. */
  SIGNATURE_MISSING: "SIGNATURE_MISSING",
  /** The signature does not verify with the box's registered key (forged, altered, other box). */
  SIGNATURE_INVALID: "SIGNATURE_INVALID",
  /** Signatures are required and the county has no key for this site (unknown or disabled box). */
  UNKNOWN_BOX: "UNKNOWN_BOX",
} as const;

export type SignatureRefusal = { code: keyof typeof SIGNATURE_ERRORS; message: string };

/** undefined when the message may be acted on; else why not. Logs refusals at warn (never the payload). */
export function checkSignature(
  ctx: Pick<ReceiverContext, "boxes" | "requireSignatures" | "log">,
  site: SiteAddress,
  kind: "manifest" | "commit",
  message: object & { transferId: string },
): SignatureRefusal | undefined {
  const refusal = judge(ctx, site, kind, message);
  if (refusal) {
    ctx.log.warn(
      { siteId: site.siteId, kind, transferId: message.transferId, code: refusal.code },
      `${kind} refused: ${refusal.message}`,
    );
  }
  return refusal;
}

function judge(
  ctx: Pick<ReceiverContext, "boxes" | "requireSignatures">,
  site: SiteAddress,
  kind: "manifest" | "commit",
  message: object,
): SignatureRefusal | undefined {
  const key = ctx.boxes.verifyKey(site.siteId);
  if (!key) {
    if (!ctx.requireSignatures) return undefined;
    return { code: "UNKNOWN_BOX", message: "no key is registered for this site" };
  }
  switch (verifyMessage(upTopic(site, kind), message, key)) {
    case "valid":
      return undefined;
    case "missing":
      return { code: "SIGNATURE_MISSING", message: `the ${kind} is not signed` };
    case "invalid":
      return { code: "SIGNATURE_INVALID", message: `the ${kind}'s signature does not verify` };
  }
}

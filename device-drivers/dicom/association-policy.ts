/**
 * What we answer to an A-ASSOCIATE-RQ (PS3.8 7.1.1, 9.3.2): which called AE titles we are, and, per
 * proposed presentation context, whether we accept its abstract syntax and in which transfer syntax.
 * Pure functions over plain data, so the policy is tested without a socket.
 */
import {
  CONTEXT_RESULT,
  NON_STORAGE_SOP_CLASS_PREFIXES,
  SOP_CLASS,
  STANDARD_TRANSFER_SYNTAX_ROOT,
  TRANSFER_SYNTAX,
} from "./constants.ts";
import { MODALITY_WORKLIST_FIND } from "./worklist-constants.ts";

export interface ProposedContext {
  id: number;
  abstractSyntaxUid: string;
  transferSyntaxUids: readonly string[];
}

export type ContextDecision =
  | { id: number; result: typeof CONTEXT_RESULT.acceptance; transferSyntaxUid: string }
  | {
      id: number;
      result:
        | typeof CONTEXT_RESULT.abstractSyntaxNotSupported
        | typeof CONTEXT_RESULT.transferSyntaxesNotSupported;
    };

/**
 * PS3.8 7.1.1.4/7.1.1.3: AE titles are compared without their insignificant leading and trailing
 * spaces; case matters (PS3.5 6.2, AE).
 */
export function isCalledAeTitleOurs(calledAeTitle: string, ourAeTitle: string): boolean {
  return calledAeTitle.trim() === ourAeTitle.trim();
}

/** Decide every proposed context: Verification and storage are accepted, other services are not. */
export function decideContexts(proposed: readonly ProposedContext[]): ContextDecision[] {
  return proposed.map((context) => {
    if (!isServedAbstractSyntax(context.abstractSyntaxUid)) {
      return { id: context.id, result: CONTEXT_RESULT.abstractSyntaxNotSupported };
    }
    const transferSyntaxUid = chooseTransferSyntax(context.transferSyntaxUids);
    if (transferSyntaxUid === undefined) {
      return { id: context.id, result: CONTEXT_RESULT.transferSyntaxesNotSupported };
    }
    return { id: context.id, result: CONTEXT_RESULT.acceptance, transferSyntaxUid };
  });
}

/** Verification, and anything that is not a known non-storage service (private SOP classes too). */
export function isServedAbstractSyntax(abstractSyntaxUid: string): boolean {
  if (abstractSyntaxUid === SOP_CLASS.verification) return true;
  if (abstractSyntaxUid === MODALITY_WORKLIST_FIND) return true; // PS3.4 K.6: worklist-find.ts
  if (abstractSyntaxUid === SOP_CLASS.storageCommitmentPushModel) return true; // PS3.4 J.3: storage-commitment.ts
  if (abstractSyntaxUid.length === 0) return false;
  return !NON_STORAGE_SOP_CLASS_PREFIXES.some((prefix) => abstractSyntaxUid.startsWith(prefix));
}

/**
 * Lossy transfer syntaxes (PS3.5 8.2, PS3.6 Annex A): accepted only when the SCU offers nothing
 * lossless for that context, since diagnosis at the county must not read a degraded image the
 * modality could have sent intact. A modality that holds only a lossy image (an exported JPEG) can
 * still send it.
 */
export const LOSSY_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  "1.2.840.10008.1.2.4.50", // JPEG Baseline (Process 1)
  "1.2.840.10008.1.2.4.51", // JPEG Extended (Process 2 & 4)
  "1.2.840.10008.1.2.4.81", // JPEG-LS Near-Lossless
  "1.2.840.10008.1.2.4.91", // JPEG 2000
  "1.2.840.10008.1.2.4.93", // JPEG 2000 Part 2 Multi-component
  "1.2.840.10008.1.2.4.203", // High-Throughput JPEG 2000
  "1.2.840.10008.1.2.4.100", // MPEG2 Main Profile / Main Level …
  "1.2.840.10008.1.2.4.101",
  "1.2.840.10008.1.2.4.102", // MPEG-4 AVC/H.264 …
  "1.2.840.10008.1.2.4.103",
  "1.2.840.10008.1.2.4.104",
  "1.2.840.10008.1.2.4.105",
  "1.2.840.10008.1.2.4.106",
  "1.2.840.10008.1.2.4.107", // HEVC/H.265 …
  "1.2.840.10008.1.2.4.108",
]);

/**
 * Our preference among what the SCU proposed in one context:
 *   1. Explicit VR Little Endian (carries the VRs a reader needs), then Implicit VR Little Endian
 *      (the default every SCU supports, PS3.5 10.1): the box then compresses losslessly itself and
 *      verifies the result pixel by pixel, which it cannot do for a modality's own encoder.
 *   2. Any other standard lossless syntax (JPEG-LS, JPEG 2000 and HTJ2K lossless, JPEG lossless,
 *      RLE, deflate, big endian), in the order proposed.
 *   3. A lossy syntax, in the order proposed, only if nothing lossless was offered.
 * We store what the modality sent and never transcode on receive. Private syntaxes are refused.
 */
export function chooseTransferSyntax(proposed: readonly string[]): string | undefined {
  if (proposed.includes(TRANSFER_SYNTAX.explicitVrLittleEndian))
    return TRANSFER_SYNTAX.explicitVrLittleEndian;
  if (proposed.includes(TRANSFER_SYNTAX.implicitVrLittleEndian))
    return TRANSFER_SYNTAX.implicitVrLittleEndian;
  const standard = proposed.filter(
    (uid) => uid === STANDARD_TRANSFER_SYNTAX_ROOT || uid.startsWith(`${STANDARD_TRANSFER_SYNTAX_ROOT}.`),
  );
  return standard.find((uid) => !LOSSY_TRANSFER_SYNTAXES.has(uid)) ?? standard[0];
}

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
 * Explicit VR Little Endian first (it carries the VRs a reader needs), then Implicit VR Little Endian
 * (the default every SCU supports, PS3.5 10.1). Otherwise the first standard syntax proposed, as is:
 * we store what the modality sent and never transcode on receive, so an encapsulated (JPEG, JPEG-LS,
 * JPEG 2000, RLE) or deflated syntax is accepted. Private syntaxes are refused.
 */
export function chooseTransferSyntax(proposed: readonly string[]): string | undefined {
  if (proposed.includes(TRANSFER_SYNTAX.explicitVrLittleEndian))
    return TRANSFER_SYNTAX.explicitVrLittleEndian;
  if (proposed.includes(TRANSFER_SYNTAX.implicitVrLittleEndian))
    return TRANSFER_SYNTAX.implicitVrLittleEndian;
  return proposed.find(
    (uid) => uid === STANDARD_TRANSFER_SYNTAX_ROOT || uid.startsWith(`${STANDARD_TRANSFER_SYNTAX_ROOT}.`),
  );
}

/**
 * Sending a study's previews ahead of its data (`up/preview`, see PROTOCOL.md). Best effort by
 * design: a preview that cannot be sent as declared is skipped with a warning and the study goes on;
 * only a lost connection ends the attempt (as it would for any publish).
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "../common/logger.ts";
import { describeError } from "./errors.ts";
import { encodePreview, MAX_PREVIEWS_PER_STUDY, ProtocolError } from "./protocol/index.ts";
import { PublishWindow } from "./publish-window.ts";
import type { OutboundPreview } from "./types.ts";

/** Why a preview was skipped (the `code` of its "preview skipped" warning). */
export const PREVIEW_SKIPS = {
  /** The file cannot be opened or read (gone, permissions). */
  unreadable: "PREVIEW_FILE_UNREADABLE",
  /** The file's size is not the descriptor's. */
  sizeMismatch: "PREVIEW_SIZE_MISMATCH",
  /** The file's SHA-256 is not the descriptor's. */
  hashMismatch: "PREVIEW_HASH_MISMATCH",
  /** Larger than `maxPreviewBytes`. */
  tooLarge: "PREVIEW_TOO_LARGE",
  /** A second preview with the same previewId in one study. */
  duplicate: "PREVIEW_DUPLICATE",
  /** More than MAX_PREVIEWS_PER_STUDY previews. */
  limit: "PREVIEW_LIMIT",
  // Otherwise the codec's own code: PROTO_BAD_PREVIEW (bad id, media type not matching the bytes …).
} as const;

/** What the sender decides for one attempt's previews. */
export interface PreviewPlan {
  /** Send no preview on this attempt. */
  skipAll?: boolean;
  /**
   * `previewKey`s already dealt with (the broker acknowledged them, or they were skipped as
   * unsendable) on an earlier attempt or by the previews lane: not sent, nor warned about, again.
   */
  alreadySent?: ReadonlySet<string>;
  /** Called with a preview's key once the broker acknowledged it (PUBACK). */
  onSent?: (key: string) => void;
  /** Called with a preview's key when it is skipped (see PREVIEW_SKIPS); its warning is logged once. */
  onSkipped?: (key: string) => void;
}

/** A preview's identity for "already sent": its id and its content. */
export function previewKey(preview: Pick<OutboundPreview, "previewId" | "sha256">): string {
  return `${preview.previewId}:${preview.sha256}`;
}

export interface SendPreviewsOptions {
  studyInstanceUid: string;
  previews: readonly OutboundPreview[];
  maxBytes: number;
  /** Publishes awaiting PUBACK at once (each holds one preview in memory). */
  window: number;
  plan: PreviewPlan;
  /** Publish one encoded preview at QoS 1; resolves on its PUBACK. */
  publish: (payload: Buffer) => Promise<void>;
  log: Logger;
}

/**
 * Publish each sendable preview and wait until the broker acknowledged every one. Resolves with how
 * many were published; throws only what a publish throws (a lost connection, an abort).
 */
export async function sendPreviews(options: SendPreviewsOptions): Promise<number> {
  const { studyInstanceUid, plan, log } = options;
  const window = new PublishWindow(options.window);
  const seen = new Set<string>();
  let sent = 0;
  for (const preview of options.previews) {
    const key = previewKey(preview);
    const dealtWith = plan.alreadySent?.has(key) === true;
    const skip = (code: string, reason: string) => {
      plan.onSkipped?.(key);
      if (dealtWith) return;
      log.warn({ studyInstanceUid, previewId: preview.previewId, code, reason }, "preview skipped");
    };
    if (seen.has(preview.previewId)) {
      skip(PREVIEW_SKIPS.duplicate, "another preview of this study has the same previewId");
      continue;
    }
    seen.add(preview.previewId);
    if (seen.size > MAX_PREVIEWS_PER_STUDY) {
      skip(PREVIEW_SKIPS.limit, `a study has at most ${MAX_PREVIEWS_PER_STUDY} previews`);
      continue;
    }
    if (dealtWith) continue;
    const loaded = await loadPreview(studyInstanceUid, preview, options.maxBytes);
    if ("skip" in loaded) {
      skip(loaded.skip, loaded.reason);
      continue;
    }
    await window.add(async () => {
      await options.publish(loaded.payload);
      plan.onSent?.(key);
      log.debug({ studyInstanceUid, previewId: preview.previewId, bytes: preview.size }, "preview sent");
    });
    sent += 1;
  }
  await window.drain();
  return sent;
}

type Loaded = { payload: Buffer } | { skip: string; reason: string };

/** Read, verify and encode one preview (the file is at most `maxBytes`, so it is read whole). */
export async function loadPreview(
  studyInstanceUid: string,
  preview: OutboundPreview,
  maxBytes: number,
): Promise<Loaded> {
  if (preview.size > maxBytes) {
    return { skip: PREVIEW_SKIPS.tooLarge, reason: `${preview.size} bytes, more than ${maxBytes}` };
  }
  let data: Buffer;
  try {
    // stat first: a file that grew huge is not read into memory.
    const size = (await stat(preview.path)).size;
    if (size !== preview.size) {
      return {
        skip: PREVIEW_SKIPS.sizeMismatch,
        reason: `file has ${size} bytes, descriptor says ${preview.size}`,
      };
    }
    data = await readFile(preview.path);
  } catch (error) {
    return { skip: PREVIEW_SKIPS.unreadable, reason: `cannot read its file (${describeError(error).code})` };
  }
  if (data.length !== preview.size) {
    return { skip: PREVIEW_SKIPS.sizeMismatch, reason: "file changed while being read" };
  }
  if (createHash("sha256").update(data).digest("hex") !== preview.sha256) {
    return { skip: PREVIEW_SKIPS.hashMismatch, reason: "file SHA-256 does not match its descriptor" };
  }
  try {
    const payload = encodePreview(
      {
        studyInstanceUid,
        previewId: preview.previewId,
        mediaType: preview.mediaType,
        sha256: preview.sha256,
        size: preview.size,
        ...(preview.width === undefined ? {} : { width: preview.width }),
        ...(preview.height === undefined ? {} : { height: preview.height }),
        ...(preview.description === undefined ? {} : { description: preview.description }),
      },
      data,
    );
    return { payload };
  } catch (error) {
    // The codec's messages name a field or a size, never a value: safe to log.
    if (error instanceof ProtocolError) return { skip: error.code, reason: error.message };
    throw error;
  }
}

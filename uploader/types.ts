/**
 * What the uploader needs from whoever composes it. The uploader knows nothing of the gateway: it
 * declares these shapes, the gateway implements them.
 */
import type {
  InstanceDescriptor,
  PreviewMediaType,
  Priority,
  ReportMessage,
  StudyDescriptor,
} from "./protocol/index.ts";

/** One instance ready to send: its descriptor (size, SHA-256) and where to read its bytes. */
export interface OutboundInstance extends InstanceDescriptor {
  path: string;
}

/**
 * A small image of the study (an ECG's 12-lead sheet; later ultrasound / DR thumbnails) that goes to
 * the county before the study's data, on `up/preview`. Best effort: a preview whose file is missing,
 * has another size or SHA-256, is larger than `maxPreviewBytes` or is not of its media type is
 * skipped with a warning; it never holds the study back.
 */
export interface OutboundPreview {
  /**
   * Stable for what it depicts: the same id again replaces the county's copy. E.g. the SOP Instance
   * UID of the instance it shows, or "sheet-1" for an ECG's first sheet. `PREVIEW_ID_PATTERN`:
   * letters, digits, `.`, `_`, `-`, 1–64 characters, not starting with `.`, `_` or `-`.
   */
  previewId: string;
  /** "image/png" | "image/svg+xml" | "image/jpeg"; the bytes must be of it (signature checked). */
  mediaType: PreviewMediaType;
  /** Where the box holds the image (never sent). */
  path: string;
  /** Bytes of the file, 1 … `maxPreviewBytes` (MAX_PREVIEW_BYTES = 768 KiB at most). */
  size: number;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
  width?: number;
  height?: number;
  /** Short text for the viewer ("12-lead sheet"); no patient data. */
  description?: string;
}

/** A study ready to send. */
export interface OutboundStudy {
  study: StudyDescriptor;
  instances: OutboundInstance[];
  /**
   * Optional (added within v1): previews published, each awaited to its PUBACK, before the manifest,
   * in this order. Previews of `study.studyInstanceUid` only.
   */
  previews?: OutboundPreview[];
}

export interface OutboundQueue {
  /**
   * The next study to send by the queue's ordering (priority, then age), or `undefined` when nothing
   * is ready. The study stays in the queue until `delivered` is called.
   *
   * `exclude` (optional, added after v1 of this port): studies the sender is holding back in a retry
   * backoff; skip them and return the next one. An implementation that ignores it still works, but a
   * study in backoff then blocks the ones behind it until its backoff ends.
   */
  next(exclude?: ReadonlySet<string>): Promise<OutboundStudy | undefined>;
  /** The sender started an attempt for this study. */
  uploading(studyInstanceUid: string): Promise<void>;
  /**
   * The reading centre acknowledged, at the application level, that it durably holds and verified
   * these instances. Only now may the study leave the queue.
   */
  delivered(studyInstanceUid: string, storedSopInstanceUids: string[]): Promise<void>;
  /** The attempt failed; the study stays queued and will be retried. */
  failed(studyInstanceUid: string, reason: string): Promise<void>;
  /** Studies waiting to be sent (for the box's status message). */
  depth(): Promise<number>;
  /** Register a callback for "something became ready"; the sender uses it to wake early. */
  onReady(listener: () => void): void;

  // The methods below were added within v1 of this port (issue 5) and are optional: a queue without
  // them still works, it just gets no preemption, no previews lane and a status with depth only.

  /**
   * The study `next(exclude)` would return, by the same ordering, without reading any file: the
   * sender asks this at chunk boundaries (a few times a second at most) to learn whether a study of
   * higher priority is waiting. `undefined` when nothing is ready.
   */
  peek?(exclude?: ReadonlySet<string>): Promise<QueueHead | undefined>;
  /**
   * The attempt of this study was abandoned for a study of higher priority (UPLOAD_PREEMPTED). Not a
   * failure: the study goes back to the queue at the place it had (its queue time is kept), with no
   * error recorded. A queue without this method is told through `failed()` instead.
   */
  preempted?(studyInstanceUid: string): Promise<void>;
  /**
   * The previews of the studies ready to send (not those in `exclude`, not those without previews),
   * in the order `next` would send the studies: priority (stat, urgent, routine), then queue time.
   * The sender publishes them ahead of any study's data, each once per broker session.
   */
  pendingPreviews?(exclude?: ReadonlySet<string>): Promise<PendingPreviews[]>;
  /** The figures of the box's status message (`depth` counts as `depth()` does). */
  stats?(): Promise<QueueStats>;
}

/** What `OutboundQueue.peek` tells of the head of the ready queue. */
export interface QueueHead {
  studyInstanceUid: string;
  priority: Priority;
}

/** One ready study's previews (`OutboundQueue.pendingPreviews`). */
export interface PendingPreviews {
  studyInstanceUid: string;
  priority: Priority;
  previews: OutboundPreview[];
}

/** The queue's figures for the box's status message (`OutboundQueue.stats`). */
export interface QueueStats {
  /** Studies waiting to be sent or being sent. */
  depth: number;
  /** Bytes of those studies' instances. */
  bytes: number;
  /** How many of them have priority "stat". */
  stat: number;
  /** When the box received the first instance of the oldest of them (ISO 8601); absent when none. */
  oldestQueuedAt?: string;
}

/** Where reports from the reading centre go. */
export interface ReportInbox {
  /**
   * Store the report durably. Resolves only once it is on disk: the uploader acknowledges the
   * report to the reading centre after that, never before. Must be idempotent by `reportId`.
   */
  accept(report: ReportMessage): Promise<void>;
}

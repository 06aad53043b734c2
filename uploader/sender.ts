/**
 * The upload loop: while connected, take the queue's next study and run one transfer attempt at a
 * time. A study whose attempt failed is held back for a jittered exponential backoff of its own, so
 * a study the county keeps refusing neither hot-loops nor blocks the studies behind it.
 *
 * Ordering (PROTOCOL.md, "Priority, preemption, previews lane"):
 * - the previews lane: before each attempt and at every chunk boundary, once a study became ready
 *   (or the connection was re-made), the previews of every ready study are published (stat first,
 *   then by priority and age), each once per broker session — so previews go before any study's
 *   data without abandoning the transfer in progress;
 * - data by the queue's order (priority, then age);
 * - preemption: at chunk boundaries the queue's head is looked at (at most every PEEK_INTERVAL_MS,
 *   and at once after a study became ready); a head of strictly higher priority than the study in
 *   transfer makes the transfer yield (UPLOAD_PREEMPTED): not a failure, no backoff, the study goes
 *   back to its place in the queue and resumes after the other one (the county's manifest-ack tells
 *   its next attempt what is already held).
 *
 * Previews are remembered per study once the broker has them, so a retry does not send them again;
 * and an attempt that lost its connection while sending previews is retried once without them (an
 * older county broker closes the connection on the unknown topic). The lane pauses after such a
 * loss until a study is delivered again, so an older county costs no more lost connections than
 * before the lane existed.
 */
import type { Logger } from "../common/logger.ts";
import { type BackoffPolicy, backoffDelay } from "./backoff.ts";
import type { CommitAckRegistry } from "./commit-acks.ts";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
import { previewKey, sendPreviews } from "./previews.ts";
import { PRIORITY_RANK, type SiteAddress, upTopic } from "./protocol/index.ts";
import type { SessionPort } from "./session.ts";
import {
  type ChunkBoundaryDecision,
  failedWhileSendingPreviews,
  type TransferDeps,
  type TransferSettings,
  transferStudy,
} from "./transfer.ts";
import type { OutboundQueue, OutboundStudy, QueueHead } from "./types.ts";

/** How often, at most, a transfer asks the queue whether a study of higher priority waits. */
export const PEEK_INTERVAL_MS = 200;

export interface SenderOptions extends TransferSettings {
  session: SessionPort;
  /** The uplink budget every transfer's publishes are paced against (transfer.ts). */
  budget?: TransferDeps["budget"];
  site: SiteAddress;
  queue: OutboundQueue;
  acks: CommitAckRegistry;
  log: Logger;
  /** Per-study backoff after a failed attempt. */
  retry: BackoffPolicy;
  /** Look at the queue at least this often even without an onReady signal. */
  pollIntervalMs: number;
  /** Called after the sender changed the queue's depth (a study delivered): the status re-announces. */
  onQueueChanged?: () => void;
}

interface Hold {
  failures: number;
  notBefore: number;
}

/** What the sender remembers of a study's previews between its attempts (until it is delivered). */
interface PreviewMemory {
  /**
   * `previewKey`s dealt with on this broker session: acknowledged by the broker, or skipped as
   * unsendable. Neither an attempt nor the lane sends (or warns about) them again.
   */
  done: Set<string>;
  /** The last attempt lost its connection while sending previews: send none on the next one. */
  skipNext: boolean;
}

export class Sender {
  readonly #options: SenderOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  readonly #held = new Map<string, Hold>();
  readonly #previews = new Map<string, PreviewMemory>();
  #loop: Promise<void> | undefined;
  #current: AbortController | undefined;
  #currentStudy: string | undefined;
  #wakeSleeper: (() => void) | undefined;
  /** A wake-up that came while not sleeping (onReady during a transfer): the next sleep is skipped. */
  #wakePending = false;
  /** A study became ready or the connection was re-made since the lane last looked at the queue. */
  #laneDirty = true;
  /** The lane lost the connection while publishing: it rests until a study is delivered again. */
  #lanePaused = false;
  /** A study became ready since the last peek: the next chunk boundary peeks whatever the interval. */
  #peekDirty = false;
  #lastPeekAt = 0;
  /** The study the last preempted attempt gave the uplink to. */
  #yieldedTo: string | undefined;
  /**
   * Heads that won a preemption and then were not what the queue gave next (e.g. no files left): not
   * allowed to preempt again until a study becomes ready, or the preempted study would restart
   * forever without progress.
   */
  readonly #unsendableHeads = new Set<string>();

  constructor(options: SenderOptions) {
    this.#options = options;
    this.#log = options.log;
    options.queue.onReady(() => {
      this.#laneDirty = true;
      this.#peekDirty = true;
      this.#unsendableHeads.clear();
      this.#wake();
    });
    options.session.on("connected", ({ sessionPresent }) => {
      // A new connection without our session means a commit-ack the attempt may be waiting for was
      // lost with the old session; waiting out the timeout would only delay the retry.
      if (!sessionPresent && this.#current) {
        this.#current.abort(
          uploadError(UPLOAD_ERRORS.sessionLost, "the broker no longer holds the box's session"),
        );
      }
      // A broker that lost our session may have lost what it held for the reading centre too
      // (a restarted in-memory broker): previews it acknowledged are sent again.
      if (!sessionPresent) for (const memory of this.#previews.values()) memory.done.clear();
      this.#laneDirty = true;
      this.#wake();
    });
  }

  /** The study being uploaded now (its UID; for the status message). */
  get uploading(): string | undefined {
    return this.#currentStudy;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Abort the attempt in progress (the study stays queued) and wait for the loop to end. */
  async stop(): Promise<void> {
    const stopped = uploadError(UPLOAD_ERRORS.stopped, "uploader stopping");
    this.#stopping.abort(stopped);
    this.#current?.abort(stopped);
    this.#wake();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { session, queue, pollIntervalMs } = this.#options;
    while (!this.#stopping.signal.aborted) {
      try {
        if (!session.connected) {
          await this.#sleep(undefined);
          continue;
        }
        // Previews first: the study about to go has its data read and hashed by next().
        await this.#previewLane(this.#stopping.signal, undefined);
        if (this.#stopping.signal.aborted) break;
        if (!session.connected) continue;
        const now = Date.now();
        const held = this.#heldAt(now);
        const outbound = await queue.next(held);
        if (this.#stopping.signal.aborted) break;
        if (!outbound || held.has(outbound.study.studyInstanceUid)) {
          await this.#sleep(this.#idleDelay(now));
          continue;
        }
        await this.#attempt(outbound);
      } catch (error) {
        this.#log.error({ error: describeError(error).message }, "outbound queue failed; retrying later");
        await this.#sleep(pollIntervalMs);
      }
    }
  }

  async #attempt(outbound: OutboundStudy): Promise<void> {
    const { queue } = this.#options;
    const studyInstanceUid = outbound.study.studyInstanceUid;
    if (this.#yieldedTo !== undefined && this.#yieldedTo !== studyInstanceUid) {
      this.#unsendableHeads.add(this.#yieldedTo);
    }
    this.#yieldedTo = undefined;
    const attempt = new AbortController();
    this.#current = attempt;
    this.#currentStudy = studyInstanceUid;
    const started = Date.now();
    const previews = this.#previewMemory(studyInstanceUid);
    const skipPreviews = previews.skipNext;
    previews.skipNext = false;
    const preemption: { by?: QueueHead } = {};
    try {
      await queue.uploading(studyInstanceUid);
      const result = await transferStudy(
        { ...this.#options, atChunkBoundary: this.#chunkBoundary(outbound, attempt.signal, preemption) },
        outbound,
        attempt.signal,
        {
          skipAll: skipPreviews,
          alreadySent: previews.done,
          onSent: (key) => previews.done.add(key),
          onSkipped: (key) => previews.done.add(key),
        },
      );
      try {
        await queue.delivered(studyInstanceUid, result.stored);
      } catch (error) {
        // The county holds it; re-sending later is harmless (it stores a study once).
        throw uploadError(
          UPLOAD_ERRORS.queueFailed,
          `could not record delivery: ${describeError(error).message}`,
        );
      }
      const failures = this.#held.get(studyInstanceUid)?.failures ?? 0;
      this.#held.delete(studyInstanceUid);
      this.#previews.delete(studyInstanceUid);
      // The link carried a whole study: worth trying the lane again.
      this.#lanePaused = false;
      this.#log.info(
        {
          studyInstanceUid,
          transferId: result.transferId,
          instances: result.stored.length,
          bytes: result.bytes,
          previews: result.previews,
          ms: Date.now() - started,
          earlierFailures: failures,
        },
        "study delivered",
      );
      this.#options.onQueueChanged?.();
    } catch (error) {
      const { code, message } = describeError(error);
      if (code === UPLOAD_ERRORS.preempted && !attempt.signal.aborted) {
        await this.#preempted(outbound, preemption.by, message);
        return;
      }
      const hold = this.#hold(studyInstanceUid, retryAfterMs(error));
      if (failedWhileSendingPreviews(error)) previews.skipNext = true;
      const level = code === UPLOAD_ERRORS.stopped ? "info" : "warn";
      this.#log[level](
        {
          studyInstanceUid,
          code,
          error: message,
          failures: hold.failures,
          retryInMs: hold.notBefore - Date.now(),
        },
        "upload attempt failed; the study stays queued",
      );
      try {
        await queue.failed(studyInstanceUid, `${code}: ${message}`);
      } catch (queueError) {
        this.#log.error(
          { studyInstanceUid, error: describeError(queueError).message },
          "outbound queue could not record a failed attempt",
        );
      }
    } finally {
      this.#current = undefined;
      this.#currentStudy = undefined;
    }
  }

  /** A preempted study goes back to its place in the queue: no backoff, no error recorded. */
  async #preempted(outbound: OutboundStudy, by: QueueHead | undefined, message: string): Promise<void> {
    const { queue } = this.#options;
    const studyInstanceUid = outbound.study.studyInstanceUid;
    this.#log.info(
      {
        studyInstanceUid,
        priority: outbound.study.priority,
        preemptedBy: by?.studyInstanceUid,
        preemptedByPriority: by?.priority,
        reason: message,
      },
      "upload preempted",
    );
    try {
      // A queue without `preempted` learns it the only way it can; with one, no error is recorded.
      if (queue.preempted) await queue.preempted(studyInstanceUid);
      else await queue.failed(studyInstanceUid, `${UPLOAD_ERRORS.preempted}: ${message}`);
    } catch (error) {
      this.#log.error(
        { studyInstanceUid, error: describeError(error).message },
        "outbound queue could not record a preempted attempt",
      );
    }
  }

  /**
   * The transfer's hook before each chunk: publish previews that became pending, then decide whether
   * a study of strictly higher priority takes the uplink.
   */
  #chunkBoundary(
    outbound: OutboundStudy,
    signal: AbortSignal,
    preemption: { by?: QueueHead },
  ): () => Promise<ChunkBoundaryDecision> {
    const { queue } = this.#options;
    const studyInstanceUid = outbound.study.studyInstanceUid;
    const rank = PRIORITY_RANK[outbound.study.priority];
    return async () => {
      await this.#previewLane(signal, studyInstanceUid);
      // Nothing outranks stat, and a queue without peek cannot say.
      if (!queue.peek || rank === 0 || signal.aborted) return "continue";
      const now = Date.now();
      if (!this.#peekDirty && now - this.#lastPeekAt < PEEK_INTERVAL_MS) return "continue";
      this.#peekDirty = false;
      this.#lastPeekAt = now;
      // A study in its backoff could not be sent anyway: yielding to it would only restart this one.
      const exclude = this.#heldAt(now);
      exclude.add(studyInstanceUid);
      for (const uid of this.#unsendableHeads) exclude.add(uid);
      let head: QueueHead | undefined;
      try {
        head = await queue.peek(exclude);
      } catch (error) {
        this.#log.warn({ error: describeError(error).message }, "queue peek failed; the transfer goes on");
        return "continue";
      }
      if (!head || exclude.has(head.studyInstanceUid) || PRIORITY_RANK[head.priority] >= rank) {
        return "continue";
      }
      preemption.by = head;
      this.#yieldedTo = head.studyInstanceUid;
      return "yield";
    };
  }

  /**
   * The previews lane: publish the previews of every ready study not yet dealt with on this broker
   * session, in the queue's order. Best effort: it never throws (a lost connection ends the lane and
   * pauses it; the attempt in progress, if any, notices the connection by itself).
   */
  async #previewLane(signal: AbortSignal, inTransfer: string | undefined): Promise<void> {
    const { queue, session, log } = this.#options;
    if (!this.#options.sendPreviews || !queue.pendingPreviews) return;
    if (!this.#laneDirty || this.#lanePaused || signal.aborted || !session.connected) return;
    this.#laneDirty = false;
    let pending: Awaited<ReturnType<NonNullable<OutboundQueue["pendingPreviews"]>>>;
    try {
      pending = await queue.pendingPreviews(new Set(inTransfer ? [inTransfer] : []));
    } catch (error) {
      log.warn({ error: describeError(error).message }, "pending previews unavailable; the lane waits");
      return;
    }
    const generation = session.generation;
    for (const study of pending) {
      if (study.studyInstanceUid === inTransfer) continue;
      const memory = this.#previewMemory(study.studyInstanceUid);
      // That study's last attempt lost the connection on its previews: it goes without them once.
      if (memory.skipNext) continue;
      if (study.previews.every((preview) => memory.done.has(previewKey(preview)))) continue;
      try {
        const sent = await sendPreviews({
          studyInstanceUid: study.studyInstanceUid,
          previews: study.previews,
          maxBytes: this.#options.maxPreviewBytes,
          window: this.#options.window,
          plan: {
            alreadySent: memory.done,
            onSent: (key) => memory.done.add(key),
            onSkipped: (key) => memory.done.add(key),
          },
          publish: (payload) => this.#publishPreview(payload, generation, signal),
          log,
        });
        if (sent > 0) {
          log.debug(
            { studyInstanceUid: study.studyInstanceUid, previews: sent, inTransfer },
            "previews sent ahead of the data",
          );
        }
      } catch (error) {
        const { code, message } = describeError(error);
        // A stop or an abort is the attempt's business; the rest waits for the next look.
        if (signal.aborted) {
          this.#laneDirty = true;
          return;
        }
        if (code === UPLOAD_ERRORS.connectionLost) {
          // Maybe an older county broker refusing up/preview: this study goes without previews on its
          // next attempt, and the lane rests until a study gets through.
          memory.skipNext = true;
          this.#lanePaused = true;
          this.#laneDirty = true;
        }
        // Anything else waits for the next study to become ready (not retried at every chunk).
        log.warn(
          { studyInstanceUid: study.studyInstanceUid, code, error: message },
          "previews lane stopped; the study's own attempt sends its previews",
        );
        return;
      }
    }
  }

  async #publishPreview(payload: Buffer, generation: number, signal: AbortSignal): Promise<void> {
    const { budget, session, site } = this.#options;
    if (signal.aborted) throw signal.reason;
    await budget?.take(payload.length, signal);
    if (signal.aborted) throw signal.reason;
    // Best effort, as in a transfer: one lost with the connection is not re-sent by mqtt.js.
    await session.publish(upTopic(site, "preview"), payload, { generation, discardOnDisconnect: true });
  }

  #previewMemory(studyInstanceUid: string): PreviewMemory {
    let memory = this.#previews.get(studyInstanceUid);
    if (!memory) {
      memory = { done: new Set(), skipNext: false };
      this.#previews.set(studyInstanceUid, memory);
    }
    return memory;
  }

  /** Count a failure; the study waits its backoff, and at least `atLeastMs` (the county's hint). */
  #hold(studyInstanceUid: string, atLeastMs = 0): Hold {
    const failures = (this.#held.get(studyInstanceUid)?.failures ?? 0) + 1;
    const wait = Math.max(backoffDelay(failures - 1, this.#options.retry), atLeastMs);
    const hold = { failures, notBefore: Date.now() + wait };
    this.#held.set(studyInstanceUid, hold);
    return hold;
  }

  /** Studies still inside their backoff at `now`. */
  #heldAt(now: number): Set<string> {
    const held = new Set<string>();
    for (const [uid, hold] of this.#held) if (hold.notBefore > now) held.add(uid);
    return held;
  }

  /** Sleep until the next poll or the end of the earliest backoff, whichever comes first. */
  #idleDelay(now: number): number {
    let delay = this.#options.pollIntervalMs;
    for (const hold of this.#held.values()) {
      if (hold.notBefore > now) delay = Math.min(delay, hold.notBefore - now);
    }
    return delay;
  }

  /** Wait for `ms` (forever when undefined) or until woken by onReady, a connect, or stop. */
  #sleep(ms: number | undefined): Promise<void> {
    if (this.#wakePending || this.#stopping.signal.aborted) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.#wakeSleeper === finish) this.#wakeSleeper = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(finish, ms);
      this.#wakeSleeper = finish;
    });
  }

  #wake(): void {
    const sleeper = this.#wakeSleeper;
    if (sleeper) sleeper();
    else this.#wakePending = true;
  }
}

/** The county's "retry after" hint of a refused manifest (UPLOAD_REFUSED), in ms. */
function retryAfterMs(error: unknown): number | undefined {
  const { code } = describeError(error);
  if (code !== UPLOAD_ERRORS.refused) return undefined;
  const value = (error as { details?: Record<string, unknown> }).details?.retryAfterMs;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

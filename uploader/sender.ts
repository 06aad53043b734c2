/**
 * The upload loop: while connected, take the queue's next study and run one transfer attempt at a
 * time. A study whose attempt failed is held back for a jittered exponential backoff of its own, so
 * a study the county keeps refusing neither hot-loops nor blocks the studies behind it.
 *
 * Previews (sent ahead of each attempt's manifest) are remembered per study once the broker has them,
 * so a retry does not send them again; and an attempt that lost its connection while sending previews
 * is retried once without them (an older county broker closes the connection on the unknown topic).
 */
import type { Logger } from "../common/logger.ts";
import { type BackoffPolicy, backoffDelay } from "./backoff.ts";
import type { CommitAckRegistry } from "./commit-acks.ts";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
import type { SiteAddress } from "./protocol/index.ts";
import type { SessionPort } from "./session.ts";
import {
  failedWhileSendingPreviews,
  type TransferDeps,
  type TransferSettings,
  transferStudy,
} from "./transfer.ts";
import type { OutboundQueue, OutboundStudy } from "./types.ts";

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
}

interface Hold {
  failures: number;
  notBefore: number;
}

/** What the sender remembers of a study's previews between its attempts (until it is delivered). */
interface PreviewMemory {
  /** `previewKey`s the broker acknowledged; a retry does not send them again. */
  sent: Set<string>;
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
  #wakeSleeper: (() => void) | undefined;
  /** A wake-up that came while not sleeping (onReady during a transfer): the next sleep is skipped. */
  #wakePending = false;

  constructor(options: SenderOptions) {
    this.#options = options;
    this.#log = options.log;
    options.queue.onReady(() => this.#wake());
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
      if (!sessionPresent) for (const memory of this.#previews.values()) memory.sent.clear();
      this.#wake();
    });
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
    const attempt = new AbortController();
    this.#current = attempt;
    const started = Date.now();
    const previews = this.#previewMemory(studyInstanceUid);
    const skipPreviews = previews.skipNext;
    previews.skipNext = false;
    try {
      await queue.uploading(studyInstanceUid);
      const result = await transferStudy(this.#options, outbound, attempt.signal, {
        skipAll: skipPreviews,
        alreadySent: previews.sent,
        onSent: (key) => previews.sent.add(key),
      });
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
    } catch (error) {
      const { code, message } = describeError(error);
      const hold = this.#hold(studyInstanceUid);
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
    }
  }

  #previewMemory(studyInstanceUid: string): PreviewMemory {
    let memory = this.#previews.get(studyInstanceUid);
    if (!memory) {
      memory = { sent: new Set(), skipNext: false };
      this.#previews.set(studyInstanceUid, memory);
    }
    return memory;
  }

  #hold(studyInstanceUid: string): Hold {
    const failures = (this.#held.get(studyInstanceUid)?.failures ?? 0) + 1;
    const hold = { failures, notBefore: Date.now() + backoffDelay(failures - 1, this.#options.retry) };
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

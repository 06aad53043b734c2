/**
 * The box's presence on `up/status`: online with its queue figures on every connect, every
 * `intervalMs`, and shortly after the queue's depth changed; offline on a clean stop, and offline
 * from the broker (the will) when the link dies. Always retained, so the county sees every box's last
 * state the moment it subscribes.
 *
 * The figures (depth, bytes, stat studies, oldest, the study in transfer) are counts, times and a
 * UID: never patient data.
 */
import type { Logger } from "../common/logger.ts";
import { describeError } from "./errors.ts";
import { encodeJsonMessage, type SiteAddress, type StatusMessage, upTopic } from "./protocol/index.ts";
import type { Publisher } from "./session.ts";
import type { OutboundQueue } from "./types.ts";

/** What a status message may carry besides `online`. */
export type StatusFigures = Partial<
  Pick<
    StatusMessage,
    | "queueDepth"
    | "queueBytes"
    | "queueStat"
    | "oldestQueuedAt"
    | "uploading"
    | "statusIntervalMs"
    | "software"
  >
>;

const FIGURES = [
  "queueDepth",
  "queueBytes",
  "queueStat",
  "oldestQueuedAt",
  "uploading",
  "statusIntervalMs",
  "software",
] as const satisfies readonly (keyof StatusFigures)[];

export function statusMessage(online: boolean, extra: StatusFigures = {}): StatusMessage {
  const message: StatusMessage = { v: 1, type: "status", sentAt: new Date().toISOString(), online };
  // Only the figures given, so an absent one stays absent on the wire (not `undefined`, not null).
  for (const key of FIGURES) {
    const value = extra[key];
    if (value !== undefined) Object.assign(message, { [key]: value });
  }
  return message;
}

/** How long after a change of the queue's depth the status follows (changes meanwhile coalesce). */
export const STATUS_CHANGE_DEBOUNCE_MS = 1000;

export interface StatusPublisherOptions {
  session: Publisher;
  site: SiteAddress;
  /**
   * The queue the figures come from: `stats()` when it has it, else `depth()`. Its `onReady` makes
   * the status follow a study becoming ready (see `queueChanged`).
   */
  queue?: Pick<OutboundQueue, "depth" | "stats" | "onReady">;
  /** The queue depth alone (an older composition without `queue`); ignored when `queue` is given. */
  depth?: () => Promise<number>;
  /** The UID of the study in transfer now (Sender.uploading). */
  uploading?: () => string | undefined;
  intervalMs: number;
  software: string | undefined;
  log: Logger;
  /** Default STATUS_CHANGE_DEBOUNCE_MS. */
  changeDebounceMs?: number;
}

export class StatusPublisher {
  readonly #options: StatusPublisherOptions;
  readonly #topic: string;
  #timer: NodeJS.Timeout | undefined;
  #changeTimer: NodeJS.Timeout | undefined;
  /** Publishes run one after another, so a later status never lands before an earlier one. */
  #publishing: Promise<void> = Promise.resolve();

  constructor(options: StatusPublisherOptions) {
    this.#options = options;
    this.#topic = upTopic(options.site, "status");
    options.queue?.onReady(() => this.queueChanged());
  }

  /** Announce online now and keep announcing while connected. */
  onConnected(): void {
    this.#stopTimers();
    void this.publishOnline();
    this.#timer = setInterval(() => void this.publishOnline(), this.#options.intervalMs);
  }

  onDisconnected(): void {
    this.#stopTimers();
  }

  /**
   * The queue's depth changed (a study became ready, one was delivered): publish within
   * `changeDebounceMs`, once for every change meanwhile. Nothing while disconnected (the next
   * connect publishes anyway).
   */
  queueChanged(): void {
    if (this.#changeTimer || !this.#options.session.connected) return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      void this.publishOnline();
    }, this.#options.changeDebounceMs ?? STATUS_CHANGE_DEBOUNCE_MS);
    this.#changeTimer.unref();
  }

  publishOnline(): Promise<void> {
    const next = this.#publishing.then(() => this.#publishOnlineNow());
    this.#publishing = next;
    return next;
  }

  async #publishOnlineNow(): Promise<void> {
    const { session, software, intervalMs } = this.#options;
    if (!session.connected) return;
    const figures = await this.#figures();
    const message = statusMessage(true, { ...figures, statusIntervalMs: intervalMs, software });
    try {
      // Retained so a reading centre that (re)subscribes later still learns the box's state
      // [MQTT-3.3.1-5].
      await session.publish(this.#topic, encodeJsonMessage(message), { retain: true });
    } catch (error) {
      this.#options.log.debug({ error: describeError(error).message }, "status online not published");
    }
  }

  /** The queue's figures; what cannot be had is left out (the status still goes). */
  async #figures(): Promise<StatusFigures> {
    const { queue, depth, uploading, log } = this.#options;
    const figures: StatusFigures = {};
    try {
      if (queue?.stats) {
        const stats = await queue.stats();
        figures.queueDepth = stats.depth;
        figures.queueBytes = stats.bytes;
        figures.queueStat = stats.stat;
        if (stats.oldestQueuedAt !== undefined) figures.oldestQueuedAt = stats.oldestQueuedAt;
      } else {
        const read = queue ? () => queue.depth() : depth;
        if (read) figures.queueDepth = await read();
      }
    } catch (error) {
      log.warn({ error: describeError(error).message }, "queue figures unavailable for the status message");
    }
    const current = uploading?.();
    if (current !== undefined) figures.uploading = current;
    return figures;
  }

  /** Publish offline (retained) before a clean DISCONNECT, which suppresses the will [MQTT-3.14.4-3]. */
  async publishOffline(): Promise<void> {
    this.#stopTimers();
    const offline = statusMessage(false, { software: this.#options.software });
    await this.#options.session.publish(this.#topic, encodeJsonMessage(offline), { retain: true });
  }

  stop(): void {
    this.#stopTimers();
  }

  #stopTimers(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#changeTimer);
    this.#changeTimer = undefined;
  }
}

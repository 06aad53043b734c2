/**
 * `up/status`: each box's retained online/offline message (its will says offline when the link
 * drops) with its upload queue's figures. The latest per site is kept in memory for
 * `GET /api/boxes`; a box coming online is announced so waiting reports go out at once instead of at
 * the next retry.
 */

import type { Logger } from "../../common/logger.ts";
import { decodeJsonMessage, type StatusMessage } from "../../uploader/protocol/index.ts";
import type { UpHandler } from "./context.ts";

/** A box that does not say how often it reports is taken to report every minute (the box default). */
export const DEFAULT_STATUS_INTERVAL_MS = 60_000;
/** A box that claims online but has been silent this many status intervals is shown stale. */
export const STALE_AFTER_INTERVALS = 3;

export interface BoxStatus {
  siteId: string;
  countyId: string;
  online: boolean;
  /**
   * Online by its last status, but silent for more than STALE_AFTER_INTERVALS of its status
   * intervals: the link is probably dead and the broker has not noticed yet (keepalive), or lost the
   * will (a restarted broker). False for an offline box.
   */
  stale: boolean;
  /** When the reading centre last heard a status of the box (= receivedAt). */
  lastSeen: string;
  /** Offline: when the reading centre learned it (the will or a clean stop); null while online. */
  offlineSince: string | null;
  /** Studies waiting to upload (or uploading), by the box's last online status. */
  queueDepth: number | null;
  /** Bytes of those studies. */
  queueBytes: number | null;
  /** Stat studies among them. */
  queueStat: number | null;
  /** When the box received the oldest of them. */
  oldestQueuedAt: string | null;
  /** The study in transfer (UID), if any. */
  uploading: string | null;
  /** How often the box says it reports its status (ms); null when it does not say. */
  statusIntervalMs: number | null;
  software: string | null;
  /** When the box sent it. */
  sentAt: string;
  /** When the reading centre received it. */
  receivedAt: string;
}

type Stored = Omit<BoxStatus, "stale">;

export interface BoxRegistryOptions {
  /** The clock (tests). */
  now?: () => Date;
}

export class BoxRegistry {
  readonly #boxes = new Map<string, Stored>();
  readonly #onlineListeners: Array<(siteId: string) => void> = [];
  readonly #log: Logger;
  readonly #now: () => Date;

  constructor(log: Logger, options: BoxRegistryOptions = {}) {
    this.#log = log;
    this.#now = options.now ?? (() => new Date());
  }

  onOnline(listener: (siteId: string) => void): void {
    this.#onlineListeners.push(listener);
  }

  isOffline(siteId: string): boolean {
    return this.#boxes.get(siteId)?.online === false;
  }

  list(): BoxStatus[] {
    const now = this.#now().getTime();
    return [...this.#boxes.values()]
      .sort((a, b) => a.siteId.localeCompare(b.siteId))
      .map((box) => {
        const interval = box.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS;
        const silentMs = now - Date.parse(box.receivedAt);
        return { ...box, stale: box.online && silentMs > STALE_AFTER_INTERVALS * interval };
      });
  }

  update(countyId: string, siteId: string, status: StatusMessage): void {
    const previous = this.#boxes.get(siteId);
    const receivedAt = this.#now().toISOString();
    // Offline statuses carry no queue figures (the will was written at connect time): the last
    // figures the box gave stay shown, as what it held when it went away.
    const figures = status.online ? status : previous;
    this.#boxes.set(siteId, {
      siteId,
      countyId,
      online: status.online,
      lastSeen: receivedAt,
      offlineSince: status.online ? null : (previous?.offlineSince ?? receivedAt),
      queueDepth: figures?.queueDepth ?? null,
      queueBytes: figures?.queueBytes ?? null,
      queueStat: figures?.queueStat ?? null,
      oldestQueuedAt: figures?.oldestQueuedAt ?? null,
      uploading: status.online ? (status.uploading ?? null) : null,
      statusIntervalMs: status.statusIntervalMs ?? previous?.statusIntervalMs ?? null,
      software: status.software ?? null,
      sentAt: status.sentAt,
      receivedAt,
    });
    if (previous?.online !== status.online) {
      this.#log.info(
        { siteId, online: status.online, queueDepth: status.queueDepth, queueStat: status.queueStat },
        "box status",
      );
    }
    // Only the transition matters (periodic "still online" statuses would multiply report copies);
    // after a restart of the reading centre the first status it sees counts as one.
    if (status.online && previous?.online !== true)
      for (const listener of this.#onlineListeners) listener(siteId);
  }

  handler(): UpHandler {
    return async (site, payload) => {
      // A zero-byte retained message only clears the retained status (MQTT 3.1.1 §3.3.1.3).
      if (payload.length === 0) return;
      this.update(site.countyId, site.siteId, decodeJsonMessage(payload, "status"));
    };
  }
}

/**
 * `up/status`: each box's retained online/offline message (its will says offline when the link
 * drops). The latest per site is kept in memory for `GET /api/boxes`; a box coming online is
 * announced so waiting reports go out at once instead of at the next retry.
 */

import type { Logger } from "../../common/logger.ts";
import { decodeJsonMessage, type StatusMessage } from "../../uploader/protocol/index.ts";
import type { UpHandler } from "./context.ts";

export interface BoxStatus {
  siteId: string;
  countyId: string;
  online: boolean;
  queueDepth: number | null;
  software: string | null;
  /** When the box sent it. */
  sentAt: string;
  /** When the reading centre received it. */
  receivedAt: string;
}

export class BoxRegistry {
  readonly #boxes = new Map<string, BoxStatus>();
  readonly #onlineListeners: Array<(siteId: string) => void> = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  onOnline(listener: (siteId: string) => void): void {
    this.#onlineListeners.push(listener);
  }

  isOffline(siteId: string): boolean {
    return this.#boxes.get(siteId)?.online === false;
  }

  list(): BoxStatus[] {
    return [...this.#boxes.values()].sort((a, b) => a.siteId.localeCompare(b.siteId));
  }

  update(countyId: string, siteId: string, status: StatusMessage): void {
    const previous = this.#boxes.get(siteId);
    this.#boxes.set(siteId, {
      siteId,
      countyId,
      online: status.online,
      queueDepth: status.queueDepth ?? null,
      software: status.software ?? null,
      sentAt: status.sentAt,
      receivedAt: new Date().toISOString(),
    });
    if (previous?.online !== status.online) {
      this.#log.info({ siteId, online: status.online, queueDepth: status.queueDepth }, "box status");
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

/**
 * The box's presence on `up/status`: online with its queue depth on every connect and every
 * `intervalMs`, offline on a clean stop, and offline from the broker (the will) when the link dies.
 * Always retained, so the county sees every box's last state the moment it subscribes.
 */
import type { Logger } from "../common/logger.ts";
import { describeError } from "./errors.ts";
import { encodeJsonMessage, type SiteAddress, type StatusMessage, upTopic } from "./protocol/index.ts";
import type { Publisher } from "./session.ts";

export function statusMessage(
  online: boolean,
  extra: { queueDepth?: number; software?: string } = {},
): StatusMessage {
  const message: StatusMessage = { v: 1, type: "status", sentAt: new Date().toISOString(), online };
  if (extra.queueDepth !== undefined) message.queueDepth = extra.queueDepth;
  if (extra.software !== undefined) message.software = extra.software;
  return message;
}

export interface StatusPublisherOptions {
  session: Publisher;
  site: SiteAddress;
  depth: () => Promise<number>;
  intervalMs: number;
  software: string | undefined;
  log: Logger;
}

export class StatusPublisher {
  readonly #options: StatusPublisherOptions;
  readonly #topic: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StatusPublisherOptions) {
    this.#options = options;
    this.#topic = upTopic(options.site, "status");
  }

  /** Announce online now and keep announcing while connected. */
  onConnected(): void {
    this.#stopTimer();
    void this.publishOnline();
    this.#timer = setInterval(() => void this.publishOnline(), this.#options.intervalMs);
  }

  onDisconnected(): void {
    this.#stopTimer();
  }

  async publishOnline(): Promise<void> {
    const { session, depth, software, log } = this.#options;
    if (!session.connected) return;
    let queueDepth: number | undefined;
    try {
      queueDepth = await depth();
    } catch (error) {
      log.warn({ error: describeError(error).message }, "queue depth unavailable for the status message");
    }
    try {
      // Retained so a reading centre that (re)subscribes later still learns the box's state
      // [MQTT-3.3.1-5].
      await session.publish(this.#topic, encodeJsonMessage(statusMessage(true, { queueDepth, software })), {
        retain: true,
      });
    } catch (error) {
      log.debug({ error: describeError(error).message }, "status online not published");
    }
  }

  /** Publish offline (retained) before a clean DISCONNECT, which suppresses the will [MQTT-3.14.4-3]. */
  async publishOffline(): Promise<void> {
    this.#stopTimer();
    const offline = statusMessage(false, { software: this.#options.software });
    await this.#options.session.publish(this.#topic, encodeJsonMessage(offline), { retain: true });
  }

  stop(): void {
    this.#stopTimer();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

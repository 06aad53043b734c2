/**
 * The reading centre's MQTT client: subscribes QoS 1 to every box's upward topics in its county,
 * hands each message to the handler for its kind, and publishes acks and reports downward.
 *
 * Messages are handled one at a time, in arrival order, and each MQTT PUBACK is sent only after its
 * handler finished (mqtt.js `handleMessage`): chunks are on disk before the commit that follows them
 * is verified. Handler failures never propagate: a malformed payload is logged with its code and
 * dropped; the protocol's own commit-ack tells the box what to send again.
 *
 * The session is persistent (`clean: false`, MQTT 3.1.1 §3.1.2.4) so uploads published while the
 * receiver is reconnecting wait for it at the broker.
 */
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "../../common/logger.ts";
import {
  type DownKind,
  downTopic,
  encodeJsonMessage,
  type JsonMessage,
  ProtocolError,
  parseTopic,
  type SiteAddress,
  type UpKind,
  upWildcard,
} from "../../uploader/protocol/index.ts";
import type { DownlinkPublisher, UpHandler } from "./context.ts";

export interface ReceiverOptions {
  url: string;
  countyId: string;
  username?: string;
  password?: string;
  handlers: Readonly<Record<UpKind, UpHandler>>;
  /** Called on every (re)connection, after the subscription is in place. */
  onConnected?: () => void;
  log: Logger;
}

export class Receiver implements DownlinkPublisher {
  readonly #options: ReceiverOptions;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #current: Promise<void> = Promise.resolve();

  constructor(options: ReceiverOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  get clientId(): string {
    return `dxgate-rc-receiver-${this.#options.countyId}`;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Connect; with `waitForConnection` resolve only once subscribed (else keep trying in the background). */
  async start(waitForConnection: boolean): Promise<void> {
    const { url, username, password } = this.#options;
    // mqtt.connect rather than connectAsync: handleMessage must be installed before the CONNACK, as a
    // persistent session may deliver queued messages right after it.
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      clean: false,
      clientId: this.clientId,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: false,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    });
    this.#client = client;
    client.handleMessage = (packet, callback) => {
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      this.#current = this.#dispatch(packet.topic, Buffer.from(payload)).finally(() => callback());
    };
    client.on("error", (error) => {
      this.#log.warn(
        { code: (error as { code?: unknown }).code, reason: error.message },
        "mqtt receiver error",
      );
    });
    client.on("offline", () => this.#log.warn({}, "mqtt receiver offline"));
    const ready = new Promise<void>((resolve, reject) => {
      client.on("connect", (connack) => {
        this.#subscribe(connack.sessionPresent).then(resolve, (error: unknown) => {
          this.#log.error({ reason: (error as Error).message }, "mqtt receiver cannot subscribe");
          reject(error);
        });
      });
      // Only the first outcome counts; later errors are logged above and retried by mqtt.js.
      client.once("error", reject);
    });
    if (waitForConnection) await ready;
    else ready.catch(() => undefined);
  }

  publish(site: SiteAddress, kind: DownKind, message: JsonMessage): boolean {
    const client = this.#client;
    if (!client?.connected) return false;
    // Not awaited: a PUBACK comes through the same ordered packet queue as the message being
    // handled, so waiting for it inside a handler would deadlock. Delivery is confirmed by the
    // box's application-level ack instead.
    client.publish(downTopic(site, kind), encodeJsonMessage(message), { qos: 1 }, (error) => {
      if (error) this.#log.warn({ siteId: site.siteId, kind, reason: error.message }, "mqtt publish failed");
    });
    return true;
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    await this.#current;
    // Forced: nothing in flight needs waiting for; unacked reports are resent from the outbox.
    await client.endAsync(true);
  }

  async #subscribe(sessionPresent: boolean): Promise<void> {
    const client = this.#client!;
    const filter = upWildcard(this.#options.countyId);
    if (!sessionPresent) {
      // Rejects when the broker refuses the filter (SUBACK 0x80, MQTT 3.1.1 §3.9.3), e.g. by its ACL.
      await client.subscribeAsync(filter, { qos: 1 });
    }
    this.#log.info({ sessionPresent }, "mqtt receiver connected");
    this.#options.onConnected?.();
  }

  async #dispatch(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (parsed?.direction !== "up" || parsed.countyId !== this.#options.countyId) {
      this.#log.warn({ code: "PROTO_BAD_TOPIC" }, "message on a foreign topic dropped");
      return;
    }
    const site = { countyId: parsed.countyId, siteId: parsed.siteId };
    try {
      await this.#options.handlers[parsed.kind](site, payload);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#log.warn(
          { siteId: site.siteId, kind: parsed.kind, code: error.code, reason: error.message },
          "malformed message dropped",
        );
      } else {
        this.#log.error(
          { siteId: site.siteId, kind: parsed.kind, code: (error as { code?: unknown }).code, err: error },
          "message handling failed",
        );
      }
    }
  }
}

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
 *
 * Scale-out (an external broker with shared subscriptions, e.g. Mosquitto 2): with `sharedChunks`
 * the chunks come through `$share/{group}/dxgate/v1/{county}/+/up/chunk`, so the broker hands each
 * chunk to one member of the group (this process or a chunk-worker, all writing into the same
 * staging directory), and the other kinds through plain subscriptions of their own (this process
 * stays the single writer of the study index). aedes 1.x has no shared subscriptions (it would take
 * `$share/...` as a literal topic that nothing is published to): the embedded broker keeps the
 * default, one plain subscription to every kind.
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "../../common/logger.ts";
import {
  type DownKind,
  downTopic,
  encodeJsonMessage,
  type JsonMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  parseTopic,
  type SiteAddress,
  TOPIC_ROOT,
  UP_KINDS,
  type UpKind,
  upWildcard,
} from "../../uploader/protocol/index.ts";
import type { DownlinkPublisher, UpHandler } from "./context.ts";

export interface ReceiverOptions {
  url: string;
  countyId: string;
  username?: string;
  password?: string;
  /** A kind without a handler is not subscribed to (a chunk-worker handles chunks only). */
  handlers: Readonly<Partial<Record<UpKind, UpHandler>>>;
  /**
   * Take chunks through the shared subscription of this group (`true`: "dxgate-rc"); only for a
   * broker that has shared subscriptions. Default: off, one plain subscription.
   */
  sharedChunks?: boolean | string;
  /** Default `dxgate-rc-receiver-{countyId}`; every process of a county needs its own. */
  clientId?: string;
  /** Default false: a persistent session, so uploads wait at the broker while this reconnects. */
  clean?: boolean;
  /** For an `mqtts://` broker: the CA that issued its certificate (default: the system's CAs). */
  tls?: { ca?: Buffer };
  /** Called on every (re)connection, after the subscription is in place. */
  onConnected?: () => void;
  log: Logger;
}

/** The shared-subscription group of a county's receiver processes. */
export const SHARED_CHUNK_GROUP = "dxgate-rc";

/** The topic filters a receiver with these options subscribes to. */
export function receiverFilters(
  countyId: string,
  kinds: readonly UpKind[],
  sharedChunks: boolean | string = false,
): string[] {
  const group = sharedChunks === true ? SHARED_CHUNK_GROUP : sharedChunks || undefined;
  const plain = group === undefined ? kinds : kinds.filter((k) => k !== "chunk");
  const filters =
    plain.length === UP_KINDS.length
      ? [upWildcard(countyId)]
      : plain.map((kind) => `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/${countyId}/+/up/${kind}`);
  if (group !== undefined && kinds.includes("chunk")) {
    filters.push(`$share/${group}/${TOPIC_ROOT}/v1/${countyId}/+/up/chunk`);
  }
  return filters;
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
    return this.#options.clientId ?? `dxgate-rc-receiver-${this.#options.countyId}`;
  }

  /** What this receiver subscribes to. */
  get filters(): string[] {
    const kinds = UP_KINDS.filter((kind) => this.#options.handlers[kind] !== undefined);
    return receiverFilters(this.#options.countyId, kinds, this.#options.sharedChunks);
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Connect; with `waitForConnection` resolve only once subscribed (else keep trying in the background). */
  async start(waitForConnection: boolean): Promise<void> {
    const { url, username, password, tls } = this.#options;
    const options: IClientOptions = {
      protocolVersion: 4,
      clean: this.#options.clean ?? false,
      clientId: this.clientId,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: false,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    };
    if (tls?.ca) {
      options.ca = tls.ca;
      options.rejectUnauthorized = true;
    }
    // mqtt.connect rather than connectAsync: handleMessage must be installed before the CONNACK, as a
    // persistent session may deliver queued messages right after it. The URL may carry user:password;
    // it is never logged.
    const client = mqtt.connect(url, options);
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
    const wanted = this.filters;
    // Subscribing again to a filter the session holds replaces it without interrupting the flow
    // (MQTT 3.1.1 §3.8.4). Rejects when the broker refuses a filter (SUBACK 0x80, §3.9.3), e.g. by
    // its ACL.
    await client.subscribeAsync(wanted, { qos: 1 });
    if (sessionPresent) {
      // The session may have been made with other options (shared chunks switched on or off): drop,
      // after the new ones are in place (no gap), the filters this receiver no longer wants, so no
      // chunk keeps reaching it twice.
      const { countyId, sharedChunks } = this.#options;
      const every = [
        upWildcard(countyId),
        ...UP_KINDS.map((kind) => `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/${countyId}/+/up/${kind}`),
        ...receiverFilters(countyId, ["chunk"], sharedChunks || true),
      ];
      const stale = every.filter((f) => !wanted.includes(f));
      await client.unsubscribeAsync(stale);
    }
    this.#log.info({ sessionPresent, filters: wanted }, "mqtt receiver connected");
    this.#options.onConnected?.();
  }

  async #dispatch(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (parsed?.direction !== "up" || parsed.countyId !== this.#options.countyId) {
      this.#log.warn({ code: "PROTO_BAD_TOPIC" }, "message on a foreign topic dropped");
      return;
    }
    const site = { countyId: parsed.countyId, siteId: parsed.siteId };
    const handler = this.#options.handlers[parsed.kind];
    if (!handler) {
      // A subscription left in the session by another configuration; the broker resends nothing.
      this.#log.warn({ siteId: site.siteId, kind: parsed.kind, code: "NOT_HANDLED_HERE" }, "message dropped");
      return;
    }
    try {
      await handler(site, payload);
      // Per message, at debug: which process of a scaled-out county handled what.
      this.#log.debug({ siteId: site.siteId, kind: parsed.kind }, "message handled");
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

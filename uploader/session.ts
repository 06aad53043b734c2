/**
 * The box's one MQTT connection to the county broker (MQTT 3.1.1: aedes speaks nothing newer).
 *
 * mqtt.js can only reconnect at a fixed period, which makes every box of a county hammer the broker in
 * lockstep after an outage; so its reconnect is off (`reconnectPeriod: 0`) and this class reconnects
 * with exponential backoff and full jitter instead, reusing the same client so that its outgoing store
 * survives: unacknowledged QoS 1 publishes are re-sent on reconnect as a persistent session requires
 * [MQTT-4.4.0-1] (`client.reconnect()` would have replaced the stores).
 *
 * "connected" here means more than CONNACK: the down-topic subscription has its SUBACK, so a reply to
 * anything published afterwards cannot be missed.
 */
import { EventEmitter } from "node:events";
import { connect, type IConnackPacket, type MqttClient } from "mqtt";
import type { Logger } from "../common/logger.ts";
import { Backoff, type BackoffPolicy } from "./backoff.ts";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";

export interface SessionOptions {
  /** May carry `user:password@` (percent-encoded): they become the CONNECT's username and password. */
  brokerUrl: string;
  /**
   * PEM material for mqtts: the CA the broker's certificate must chain to, and the box's client
   * certificate and key. The server is always verified (`rejectUnauthorized`), its name included.
   */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  clientId: string;
  /** The last will, built afresh before every connect so its `sentAt` is that connect's time. */
  will: () => { topic: string; payload: Buffer };
  /** Topic filters subscribed at QoS 1 on every (re)connect, before the session counts as connected. */
  subscriptions: readonly string[];
  reconnect: BackoffPolicy;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  log: Logger;
}

export interface ConnectedInfo {
  /** The broker still held this client's session (subscriptions, queued QoS 1 messages). */
  sessionPresent: boolean;
  /** Increments on every successful connect; a transfer started on one generation dies with it. */
  generation: number;
}

export interface SessionEvents {
  connected: [info: ConnectedInfo];
  disconnected: [];
  message: [topic: string, payload: Buffer];
}

/** What publishers need of a session (the sender and report receiver take only this). */
export interface Publisher {
  readonly connected: boolean;
  readonly generation: number;
  publish(topic: string, payload: Buffer, options?: PublishOptions): Promise<void>;
}

/** A publisher that also tells when it (re)connects and disconnects (what the sender needs). */
export type SessionPort = Publisher & Pick<EventEmitter<SessionEvents>, "on" | "off">;

export interface PublishOptions {
  retain?: boolean;
  /** Refuse unless the session is still on this connection generation. */
  generation?: number;
  /**
   * If the connection closes before the PUBACK, drop the message from mqtt.js's outgoing store
   * instead of re-sending it on reconnect [MQTT-4.4.0-1]. For best-effort messages (previews): a
   * broker that refuses one by closing the connection would otherwise close every reconnect too.
   */
  discardOnDisconnect?: boolean;
}

/** Remove the in-flight QoS 1 publish whose callback is `callback` from the client's outgoing store. */
function discardOutgoing(client: MqttClient, callback: (error?: Error) => void): void {
  const outgoing = client.outgoing as Record<string, { cb?: unknown } | undefined>;
  for (const [messageId, entry] of Object.entries(outgoing)) {
    if (entry?.cb === callback) client.removeOutgoingMessage(Number(messageId));
  }
}

type State = "idle" | "connecting" | "connected" | "waiting" | "stopping" | "stopped";

/** How long stop() waits for the offline status and the DISCONNECT before dropping the socket. */
const STOP_GRACE_MS = 5000;

export class Session extends EventEmitter<SessionEvents> implements Publisher {
  readonly #options: SessionOptions;
  readonly #backoff: Backoff;
  readonly #brokerHost: string;
  #client: MqttClient | undefined;
  #state: State = "idle";
  #timer: NodeJS.Timeout | undefined;
  /** Aborted when the current network connection closes; pending publishes reject on it. */
  #link = new AbortController();
  #generation = 0;
  /** What was last logged (undefined before the first outcome), so each change is logged once. */
  #linkLogged: "up" | "down" | undefined;
  #lastError: string | undefined;

  constructor(options: SessionOptions) {
    super();
    this.#options = options;
    this.#backoff = new Backoff(options.reconnect);
    // Only the host is ever logged: a broker URL may carry credentials.
    this.#brokerHost = new URL(options.brokerUrl).host;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  get generation(): number {
    return this.#generation;
  }

  /** Start connecting in the background; never throws for an unreachable broker. */
  start(): void {
    if (this.#state !== "idle") return;
    const options = this.#options;
    const { url, credentials } = splitCredentials(options.brokerUrl);
    const tls = options.tls;
    const client = connect(url, {
      ...credentials,
      ...(tls
        ? {
            ...(tls.ca ? { ca: tls.ca } : {}),
            ...(tls.cert ? { cert: tls.cert } : {}),
            ...(tls.key ? { key: tls.key } : {}),
            rejectUnauthorized: true,
          }
        : {}),
      protocolVersion: 4,
      clientId: options.clientId,
      // A persistent session: the broker keeps our subscription and queues QoS 1 messages for us
      // (reports, commit-acks) while the uplink is down [MQTT-3.1.2-4] [MQTT-3.1.2-5].
      clean: false,
      reconnectPeriod: 0,
      resubscribe: false,
      keepalive: options.keepaliveSeconds,
      connectTimeout: options.connectTimeoutMs,
      manualConnect: true,
    });
    client.on("connect", (connack) => {
      void this.#onConnect(connack);
    });
    client.on("close", () => this.#onClose());
    client.on("error", (error) => {
      // Every failed retry raises one; only the state change is worth a line at info level.
      this.#lastError = describeError(error).message;
      options.log.debug({ error: this.#lastError }, "mqtt client error");
    });
    client.on("message", (topic, payload) => this.emit("message", topic, payload));
    this.#client = client;
    this.#connectNow();
  }

  /**
   * Publish at QoS 1 and resolve on PUBACK. Rejects at once when not connected (nothing is parked in
   * mqtt.js's offline queue: callers retry at the application level), and when the connection closes
   * before the PUBACK arrives (mqtt.js would otherwise leave the callback pending until a reconnect).
   */
  publish(topic: string, payload: Buffer, options: PublishOptions = {}): Promise<void> {
    const client = this.#client;
    const link = this.#link;
    if (!client || (this.#state !== "connected" && this.#state !== "stopping") || link.signal.aborted) {
      return Promise.reject(uploadError(UPLOAD_ERRORS.connectionLost, "not connected to the broker"));
    }
    if (options.generation !== undefined && options.generation !== this.#generation) {
      return Promise.reject(
        uploadError(UPLOAD_ERRORS.connectionLost, "the broker connection was re-established"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        link.signal.removeEventListener("abort", onClose);
        if (error) reject(error);
        else resolve();
      };
      const onClose = () => {
        reject(uploadError(UPLOAD_ERRORS.connectionLost, "connection to the broker closed before PUBACK"));
        if (options.discardOnDisconnect) discardOutgoing(client, done);
      };
      link.signal.addEventListener("abort", onClose, { once: true });
      client.publish(topic, payload, { qos: 1, retain: options.retain ?? false }, done);
    });
  }

  /**
   * Stop reconnecting and close. When connected, `beforeDisconnect` runs first (the offline status),
   * then a DISCONNECT, which makes the broker discard the will [MQTT-3.14.4-3].
   */
  async stop(beforeDisconnect?: () => Promise<void>): Promise<void> {
    const client = this.#client;
    if (!client || this.#state === "stopping" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const graceful = this.#state === "connected";
    this.#state = "stopping";
    if (graceful && beforeDisconnect) {
      try {
        await withTimeout(beforeDisconnect(), STOP_GRACE_MS);
      } catch (error) {
        this.#options.log.warn(
          { error: describeError(error).message },
          "could not finish before disconnecting",
        );
      }
    }
    await new Promise<void>((resolve) => {
      // end(false) waits for every outstanding PUBACK; a dead link would make it wait forever.
      const deadline = setTimeout(() => {
        client.stream?.destroy();
        resolve();
      }, STOP_GRACE_MS);
      client.end(!graceful, () => {
        clearTimeout(deadline);
        resolve();
      });
    });
    this.#link.abort();
    this.#state = "stopped";
    this.#options.log.info({ broker: this.#brokerHost }, "broker session closed");
  }

  #connectNow(): void {
    const client = this.#client!;
    this.#state = "connecting";
    const { topic, payload } = this.#options.will();
    // The will makes the broker announce us offline if the link dies without a DISCONNECT
    // [MQTT-3.1.2-8], retained so a reading centre that starts later still sees it [MQTT-3.1.2-17].
    client.options.will = { topic, payload, qos: 1, retain: true };
    client.connect();
  }

  async #onConnect(connack: IConnackPacket): Promise<void> {
    const client = this.#client!;
    if (this.#state !== "connecting") return;
    const link = new AbortController();
    this.#link = link;
    try {
      const filters = Object.fromEntries(
        this.#options.subscriptions.map((topic) => [topic, { qos: 1 as const }]),
      );
      // Subscribe on every connect, session present or not: a restarted broker has forgotten us, and a
      // repeated SUBSCRIBE just replaces the existing subscription [MQTT-3.8.4-3].
      const grants = await client.subscribeAsync(filters);
      const refused = grants.filter((grant) => grant.qos !== 0 && grant.qos !== 1 && grant.qos !== 2);
      if (refused.length > 0)
        throw new Error(`broker refused subscription to ${refused.length} topic filter(s)`);
    } catch (error) {
      if (link.signal.aborted || this.#state !== "connecting") return;
      this.#options.log.warn({ error: describeError(error).message }, "subscribing failed; reconnecting");
      client.stream?.destroy();
      return;
    }
    if (link.signal.aborted || this.#state !== "connecting") return;
    this.#state = "connected";
    this.#backoff.reset();
    this.#lastError = undefined;
    this.#generation += 1;
    if (this.#linkLogged !== "up") {
      this.#linkLogged = "up";
      this.#options.log.info(
        { broker: this.#brokerHost, sessionPresent: connack.sessionPresent },
        "connected to broker",
      );
    }
    this.emit("connected", { sessionPresent: connack.sessionPresent === true, generation: this.#generation });
  }

  #onClose(): void {
    this.#link.abort();
    const previous = this.#state;
    if (previous === "stopping" || previous === "stopped") {
      this.#state = "stopped";
      return;
    }
    // A connect attempt can report close more than once; one retry timer per outage step.
    if (previous === "waiting" || previous === "idle") return;
    this.#state = "waiting";
    const delay = this.#backoff.next();
    if (this.#linkLogged !== "down") {
      this.#options.log.warn(
        { broker: this.#brokerHost, error: this.#lastError },
        previous === "connected" || this.#linkLogged === "up"
          ? "lost the broker connection; reconnecting with backoff"
          : "broker unreachable; retrying in the background",
      );
      this.#linkLogged = "down";
    } else {
      this.#options.log.debug(
        { retryInMs: delay, attempt: this.#backoff.attempts },
        "reconnect attempt failed",
      );
    }
    if (previous === "connected") this.emit("disconnected");
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === "waiting") this.#connectNow();
    }, delay);
  }
}

/**
 * The broker URL without its `user:password@`, and those (percent-decoded) as CONNECT fields.
 * mqtt.js would take them from the URL itself, but splits at the last ":" (a password may hold one)
 * and keeps the URL in its options; this way the password lives only in the CONNECT packet's fields.
 */
export function splitCredentials(brokerUrl: string): {
  url: string;
  credentials: { username?: string; password?: string };
} {
  const url = new URL(brokerUrl);
  if (url.username === "" && url.password === "") return { url: brokerUrl, credentials: {} };
  const username = decodeURIComponent(url.username);
  const password = url.password === "" ? undefined : decodeURIComponent(url.password);
  url.username = "";
  url.password = "";
  return {
    url: url.toString(),
    credentials: { username, ...(password !== undefined ? { password } : {}) },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

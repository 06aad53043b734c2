/**
 * The uploader's options, their defaults and their checks. Bad configuration fails in
 * createUploader, loudly and by name; an unreachable broker never does (the box works offline).
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "../common/logger.ts";
import { type BackoffPolicy, validateBackoffPolicy } from "./backoff.ts";
import { type BandwidthBudget, UNLIMITED, validateBandwidth } from "./bandwidth.ts";
import { ID_PATTERN, MAX_CHUNK_BYTES, MAX_PREVIEW_BYTES, type SiteAddress } from "./protocol/index.ts";
import type { OutboundQueue, ReportInbox } from "./types.ts";

/** PEM material for a TLS connection to the broker (the server is always verified). */
export interface BrokerTls {
  /** The county CA's certificate(s) the broker's certificate must chain to; default: Node's CAs. */
  ca?: Buffer;
  /** The box's client certificate and key (mutual TLS); both or neither. */
  cert?: Buffer;
  key?: Buffer;
}

export interface UploaderOptions {
  /**
   * mqtt://host:port or mqtts://host:port (any URL scheme mqtt.js accepts). May carry the box's
   * credentials, `mqtts://SITE:PASSWORD@host:8883` (percent-encoded); only the host is ever logged.
   */
  brokerUrl: string;
  /** TLS material; needs a TLS scheme (mqtts:, tls:, ssl:, wss:) in `brokerUrl`. */
  tls?: BrokerTls;
  /** The box's Ed25519 private key (protocol `loadSigningKey`): manifest and commit are signed. */
  signingKey?: KeyObject;
  site: SiteAddress;
  queue: OutboundQueue;
  inbox: ReportInbox;
  log: Logger;
  /** Data bytes per chunk; default 256 KiB, 1024 … MAX_CHUNK_BYTES. */
  chunkSize?: number;
  /** Chunk publishes awaiting PUBACK at once; default 8. */
  window?: number;
  /** Wait for a commit-ack after the commit's PUBACK; default 60 s. */
  ackTimeoutMs?: number;
  /**
   * Wait for a manifest-ack after the manifest's PUBACK; default 15 s. Without one the county is
   * taken for an older one (no resume): the whole study is sent at the box's chunk size.
   */
  manifestAckTimeoutMs?: number;
  /** Per-study backoff after a failed attempt; default 2 s … 5 min. */
  retry?: BackoffPolicy;
  /** Reconnect backoff; default 1 s … 60 s. */
  reconnect?: BackoffPolicy;
  /** Re-publish the online status (with queue depth) this often while connected; default 60 s. */
  statusIntervalMs?: number;
  /** Software name/version announced in the status message; omitted by default. */
  software?: string;
  /** Look at the queue at least this often even without onReady; default 5 s. */
  pollIntervalMs?: number;
  /** MQTT keepalive; default 30 s, so a dead uplink is noticed within ~45 s. */
  keepaliveSeconds?: number;
  /** Give up on a CONNACK after this long; default 30 s. */
  connectTimeoutMs?: number;
  /** Send studies' previews (`OutboundStudy.previews`) ahead of their data; default true. */
  sendPreviews?: boolean;
  /**
   * Largest preview sent, bytes; larger ones are skipped with a warning. Default and ceiling
   * MAX_PREVIEW_BYTES (768 KiB); lower it for a broker with a smaller publish limit (a 64 KiB cap
   * leaves about 56 KiB for the image).
   */
  maxPreviewBytes?: number;
  /**
   * The uplink budget (bandwidth.ts): kbit/s, and by time of day; every publish of a transfer is
   * paced against it. Default unlimited.
   */
  bandwidth?: BandwidthBudget;
}

export const DEFAULTS = Object.freeze({
  chunkSize: 256 * 1024,
  window: 8,
  ackTimeoutMs: 60_000,
  manifestAckTimeoutMs: 15_000,
  retry: Object.freeze({ baseMs: 2000, maxMs: 300_000 }),
  reconnect: Object.freeze({ baseMs: 1000, maxMs: 60_000 }),
  statusIntervalMs: 60_000,
  pollIntervalMs: 5000,
  keepaliveSeconds: 30,
  connectTimeoutMs: 30_000,
  sendPreviews: true,
  maxPreviewBytes: MAX_PREVIEW_BYTES,
  bandwidth: UNLIMITED,
});

export type ResolvedOptions = Required<Omit<UploaderOptions, "software" | "tls" | "signingKey">> & {
  software: string | undefined;
  tls: BrokerTls | undefined;
  signingKey: KeyObject | undefined;
};

const BROKER_SCHEMES = new Set(["mqtt:", "mqtts:", "tcp:", "tls:", "ssl:", "ws:", "wss:"]);
const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:", "wss:"]);

export function resolveOptions(options: UploaderOptions): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(options.brokerUrl);
  } catch {
    throw new RangeError("brokerUrl is not a URL");
  }
  if (!BROKER_SCHEMES.has(url.protocol))
    throw new RangeError(`brokerUrl scheme ${url.protocol} is not an MQTT one`);
  const { countyId, siteId } = options.site;
  if (!ID_PATTERN.test(countyId)) throw new RangeError("site.countyId is not a valid topic id");
  if (!ID_PATTERN.test(siteId)) throw new RangeError("site.siteId is not a valid topic id");

  const resolved: ResolvedOptions = {
    ...options,
    site: { countyId, siteId },
    chunkSize: options.chunkSize ?? DEFAULTS.chunkSize,
    window: options.window ?? DEFAULTS.window,
    ackTimeoutMs: options.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs,
    manifestAckTimeoutMs: options.manifestAckTimeoutMs ?? DEFAULTS.manifestAckTimeoutMs,
    retry: options.retry ?? DEFAULTS.retry,
    reconnect: options.reconnect ?? DEFAULTS.reconnect,
    statusIntervalMs: options.statusIntervalMs ?? DEFAULTS.statusIntervalMs,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
    keepaliveSeconds: options.keepaliveSeconds ?? DEFAULTS.keepaliveSeconds,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    sendPreviews: options.sendPreviews ?? DEFAULTS.sendPreviews,
    maxPreviewBytes: options.maxPreviewBytes ?? DEFAULTS.maxPreviewBytes,
    bandwidth: options.bandwidth ?? DEFAULTS.bandwidth,
    software: options.software,
    tls: options.tls,
    signingKey: options.signingKey,
  };
  // The manifest schema's floor is 1024; the ceiling is what a receiver accepts.
  integer("chunkSize", resolved.chunkSize, 1024, MAX_CHUNK_BYTES);
  integer("window", resolved.window, 1, 1024);
  integer("ackTimeoutMs", resolved.ackTimeoutMs, 1, 2 ** 31 - 1);
  integer("manifestAckTimeoutMs", resolved.manifestAckTimeoutMs, 1, 2 ** 31 - 1);
  integer("statusIntervalMs", resolved.statusIntervalMs, 1, 2 ** 31 - 1);
  integer("pollIntervalMs", resolved.pollIntervalMs, 1, 2 ** 31 - 1);
  integer("keepaliveSeconds", resolved.keepaliveSeconds, 0, 65_535);
  integer("connectTimeoutMs", resolved.connectTimeoutMs, 1, 2 ** 31 - 1);
  integer("maxPreviewBytes", resolved.maxPreviewBytes, 1, MAX_PREVIEW_BYTES);
  if (typeof resolved.sendPreviews !== "boolean") throw new RangeError("sendPreviews must be a boolean");
  validateBandwidth(resolved.bandwidth, "bandwidth");
  validateBackoffPolicy(resolved.retry, "retry");
  validateBackoffPolicy(resolved.reconnect, "reconnect");
  checkTls(resolved.tls, url);
  const key = resolved.signingKey;
  if (key !== undefined && (key.type !== "private" || key.asymmetricKeyType !== "ed25519")) {
    throw new RangeError("signingKey must be an Ed25519 private key");
  }
  if (resolved.software !== undefined && resolved.software.length > 64) {
    throw new RangeError("software must be at most 64 characters (status schema)");
  }
  return resolved;
}

function checkTls(tls: BrokerTls | undefined, url: URL): void {
  if (tls === undefined) return;
  // Certificates on a plain connection would silently send everything, password included, in clear.
  if (!TLS_SCHEMES.has(url.protocol)) {
    throw new RangeError(`tls is set but brokerUrl scheme ${url.protocol} is not a TLS one (use mqtts:)`);
  }
  for (const field of ["ca", "cert", "key"] as const) {
    const value = tls[field];
    if (value !== undefined && (!Buffer.isBuffer(value) || value.length === 0)) {
      throw new RangeError(`tls.${field} must be a non-empty Buffer (PEM)`);
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new RangeError("tls.cert and tls.key go together (a client certificate needs its key)");
  }
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

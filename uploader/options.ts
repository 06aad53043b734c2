/**
 * The uploader's options, their defaults and their checks. Bad configuration fails in
 * createUploader, loudly and by name; an unreachable broker never does (the box works offline).
 */
import type { Logger } from "../common/logger.ts";
import { type BackoffPolicy, validateBackoffPolicy } from "./backoff.ts";
import { type BandwidthBudget, UNLIMITED, validateBandwidth } from "./bandwidth.ts";
import { ID_PATTERN, MAX_CHUNK_BYTES, MAX_PREVIEW_BYTES, type SiteAddress } from "./protocol/index.ts";
import type { OutboundQueue, ReportInbox } from "./types.ts";

export interface UploaderOptions {
  /** mqtt://host:port or mqtts://host:port (any URL scheme mqtt.js accepts). */
  brokerUrl: string;
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

export type ResolvedOptions = Required<Omit<UploaderOptions, "software">> & { software: string | undefined };

const BROKER_SCHEMES = new Set(["mqtt:", "mqtts:", "tcp:", "tls:", "ssl:", "ws:", "wss:"]);

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
  };
  // The manifest schema's floor is 1024; the ceiling is what a receiver accepts.
  integer("chunkSize", resolved.chunkSize, 1024, MAX_CHUNK_BYTES);
  integer("window", resolved.window, 1, 1024);
  integer("ackTimeoutMs", resolved.ackTimeoutMs, 1, 2 ** 31 - 1);
  integer("statusIntervalMs", resolved.statusIntervalMs, 1, 2 ** 31 - 1);
  integer("pollIntervalMs", resolved.pollIntervalMs, 1, 2 ** 31 - 1);
  integer("keepaliveSeconds", resolved.keepaliveSeconds, 0, 65_535);
  integer("connectTimeoutMs", resolved.connectTimeoutMs, 1, 2 ** 31 - 1);
  integer("maxPreviewBytes", resolved.maxPreviewBytes, 1, MAX_PREVIEW_BYTES);
  if (typeof resolved.sendPreviews !== "boolean") throw new RangeError("sendPreviews must be a boolean");
  validateBandwidth(resolved.bandwidth, "bandwidth");
  validateBackoffPolicy(resolved.retry, "retry");
  validateBackoffPolicy(resolved.reconnect, "reconnect");
  if (resolved.software !== undefined && resolved.software.length > 64) {
    throw new RangeError("software must be at most 64 characters (status schema)");
  }
  return resolved;
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * The box-side uploader: one MQTT session to the county broker, the upload loop and the report
 * receiver, composed. The gateway gives it a queue and an inbox; nothing here knows the gateway.
 */

import { TokenBucket } from "./bandwidth.ts";
import { CommitAckRegistry } from "./commit-acks.ts";
import { describeError } from "./errors.ts";
import { resolveOptions, type UploaderOptions } from "./options.ts";
import { decodeJsonMessage, downWildcard, encodeJsonMessage, parseTopic, upTopic } from "./protocol/index.ts";
import { ReportReceiver } from "./report-receiver.ts";
import { Sender } from "./sender.ts";
import { Session } from "./session.ts";
import { StatusPublisher, statusMessage } from "./status.ts";

export type { BackoffPolicy } from "./backoff.ts";
export { offeredChunkSize } from "./chunker.ts";
export { UPLOAD_ERRORS } from "./errors.ts";
export { type BrokerTls, DEFAULTS as UPLOADER_DEFAULTS, type UploaderOptions } from "./options.ts";
export { PREVIEW_SKIPS } from "./previews.ts";
export * from "./protocol/index.ts";
export type * from "./types.ts";

export interface Uploader {
  /** Start connecting and uploading in the background. Resolves at once, broker reachable or not. */
  start(): Promise<void>;
  /** Stop uploading (queued studies stay queued), announce offline if connected, disconnect. */
  stop(): Promise<void>;
  isConnected(): boolean;
}

export function createUploader(options: UploaderOptions): Uploader {
  const config = resolveOptions(options);
  const { site } = config;
  const log = config.log.child({ module: "uploader", countyId: site.countyId, siteId: site.siteId });

  const session = new Session({
    brokerUrl: config.brokerUrl,
    tls: config.tls,
    clientId: `dxgate-box-${site.countyId}-${site.siteId}`,
    will: () => ({
      topic: upTopic(site, "status"),
      payload: encodeJsonMessage(statusMessage(false, { software: config.software })),
    }),
    subscriptions: [downWildcard(site)],
    reconnect: config.reconnect,
    keepaliveSeconds: config.keepaliveSeconds,
    connectTimeoutMs: config.connectTimeoutMs,
    log,
  });
  const status = new StatusPublisher({
    session,
    site,
    // Queue figures (stats() when the queue has it) and the study in transfer; a study becoming
    // ready or delivered is announced within a second.
    queue: config.queue,
    uploading: () => sender.uploading,
    intervalMs: config.statusIntervalMs,
    software: config.software,
    log,
  });
  const acks = new CommitAckRegistry();
  const budget = new TokenBucket(config.bandwidth);
  const sender = new Sender({
    ...config,
    session,
    acks,
    log,
    budget,
    onQueueChanged: () => status.queueChanged(),
  });
  const reports = new ReportReceiver({ session, site, inbox: config.inbox, log });

  session.on("connected", () => status.onConnected());
  session.on("disconnected", () => status.onDisconnected());
  session.on("message", (topic, payload) => {
    const parsed = parseTopic(topic);
    const ours =
      parsed?.direction === "down" && parsed.countyId === site.countyId && parsed.siteId === site.siteId;
    if (!parsed || !ours) {
      log.debug({ topic }, "ignored a message on a foreign topic");
      return;
    }
    switch (parsed.kind) {
      case "report":
        void reports.handle(payload);
        return;
      case "commit-ack":
      case "manifest-ack": {
        const kind = parsed.kind;
        let ack: ReturnType<typeof decodeJsonMessage<typeof kind>>;
        try {
          ack = decodeJsonMessage(payload, kind);
        } catch (error) {
          log.warn({ ...describeError(error), bytes: payload.length }, `dropped an invalid ${kind}`);
          return;
        }
        if (!acks.deliver(ack)) {
          log.debug({ transferId: ack.transferId }, `ignored a ${kind} for no live transfer`);
        }
        return;
      }
    }
  });

  let state: "new" | "running" | "stopped" = "new";
  return {
    async start() {
      if (state !== "new") return;
      state = "running";
      session.start();
      sender.start();
    },
    async stop() {
      if (state !== "running") {
        state = "stopped";
        return;
      }
      state = "stopped";
      await sender.stop();
      status.stop();
      await session.stop(() => status.publishOffline());
    },
    isConnected: () => session.connected,
  };
}

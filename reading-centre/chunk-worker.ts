/**
 * A chunk worker: the scale-out helper of a reading centre on an external broker with shared
 * subscriptions (Mosquitto 2). It joins the county's shared chunk subscription
 * (`$share/dxgate-rc/dxgate/v1/{county}/+/up/chunk`, reading-centre/receiver/receiver.ts) and runs
 * only the chunk handler, writing chunk files into the same staging directory as the main process
 * (shared storage: a local disk, or a network filesystem with atomic rename). Manifests, commits,
 * status, previews and report-acks stay with the main process, the single writer of the study index;
 * the worker reads transfer records from staging and never writes them, and never sweeps.
 *
 * Configured like the reading centre (the same config file and environment; reading-centre/config.ts):
 * DXGATE_RC_DATA_DIR, DXGATE_RC_COUNTY_ID, DXGATE_RC_BROKER_URL (required: the external broker, with
 * the receiver user's `user:password@`; never logged), DXGATE_RC_CONFIG, DXGATE_LOG_LEVEL; and its own:
 * - DXGATE_RC_WORKER_ID: names the worker's MQTT client (`dxgate-rc-chunk-worker-{county}-{id}`)
 *   and makes its session persistent (a chunk in flight at a restart comes back to it); without it
 *   the worker takes a random id and a clean session (a chunk in flight when it stops is lost, and
 *   the box resends it after the commit finds the range missing);
 * - DXGATE_RC_BROKER_CA (`mqtt.brokerCa`): the CA file of an `mqtts://` broker's certificate;
 * - DXGATE_RC_SHARED_GROUP: the shared subscription group (default `dxgate-rc`; the main process must
 *   use the same).
 *
 * Exit codes as the reading centre's: 0 stopped by a signal, 1 failed, 78 invalid configuration.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "../common/config-loader.ts";
import { DxgateError } from "../common/errors.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { ID_PATTERN } from "../uploader/protocol/index.ts";
import { BoxRegistry } from "./boxes/registry.ts";
import { loadReadingCentreConfig, type ReadingCentreConfig, readBrokerCa } from "./config.ts";
import { chunkHandler } from "./receiver/chunk-handler.ts";
import type { ReceiverContext } from "./receiver/context.ts";
import { Receiver, SHARED_CHUNK_GROUP } from "./receiver/receiver.ts";
import { Staging } from "./receiver/staging.ts";
import { InstanceStore } from "./store/instance-store.ts";

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

export interface ChunkWorkerOptions {
  config: Readonly<ReadingCentreConfig>;
  workerId?: string | undefined;
  group?: string | undefined;
  ca?: Buffer | undefined;
  log: Logger;
}

/**
 * The chunk handler's context: staging, the limits, the registry and the content store (read only).
 * The study index, the previews and the downlink belong to the main process; touching them here is a
 * programming error, reported as such instead of writing from two processes.
 */
function chunkContext(config: Readonly<ReadingCentreConfig>, staging: Staging, log: Logger): ReceiverContext {
  const base: Partial<ReceiverContext> = {
    countyId: config.countyId,
    boxes: BoxRegistry.open(config.dataDir, log),
    requireSignatures: config.security.requireSignatures,
    maxChunkBytes: config.mqtt.maxChunkBytes,
    stagingQuotaBytes: config.quotas.stagingBytesPerBox,
    staging,
    instances: new InstanceStore(join(config.dataDir, "instances")),
    log,
  };
  return new Proxy(base, {
    get(target, key) {
      if (key in target) return target[key as keyof ReceiverContext];
      throw new Error(`a chunk worker has no ${String(key)} (only the main process has)`);
    },
  }) as ReceiverContext;
}

export function createChunkWorker(options: ChunkWorkerOptions): Receiver {
  const { config, log } = options;
  const url = config.mqtt.brokerUrl;
  if (url === undefined) {
    throw new ConfigError([
      "mqtt.brokerUrl: a chunk worker needs the external broker (DXGATE_RC_BROKER_URL)",
    ]);
  }
  if (options.workerId !== undefined && !ID_PATTERN.test(options.workerId)) {
    throw new ConfigError(["DXGATE_RC_WORKER_ID: must be 1-64 letters, digits, or _ . -"]);
  }
  const receiverLog = log.child({ component: "receiver" });
  const staging = new Staging(join(config.dataDir, "staging"), log.child({ component: "staging" }));
  const ctx = chunkContext(config, staging, receiverLog);
  const id = options.workerId ?? randomBytes(6).toString("hex");
  return new Receiver({
    url,
    countyId: config.countyId,
    handlers: { chunk: chunkHandler(ctx) },
    sharedChunks: options.group ?? true,
    clientId: `dxgate-rc-chunk-worker-${config.countyId}-${id}`,
    clean: options.workerId === undefined,
    ...(options.ca ? { tls: { ca: options.ca } } : {}),
    log: receiverLog,
  });
}

async function main(): Promise<void> {
  const envLevel = process.env.DXGATE_LOG_LEVEL ?? "info";
  let log = createLogger({ name: "dxgate-chunk-worker", level: LEVELS.has(envLevel) ? envLevel : "info" });
  try {
    const config = loadReadingCentreConfig({ file: process.env.DXGATE_RC_CONFIG });
    log = createLogger({ name: "dxgate-chunk-worker", level: config.log.level });
    const ca = readBrokerCa(config);
    const worker = createChunkWorker({
      config,
      workerId: process.env.DXGATE_RC_WORKER_ID || undefined,
      group: process.env.DXGATE_RC_SHARED_GROUP || SHARED_CHUNK_GROUP,
      ca,
      log,
    });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, "stopping");
      worker.stop().then(
        () => {
          log.info({}, "chunk worker stopped");
          process.exitCode = 0;
          setTimeout(() => process.exit(0), 1000).unref();
        },
        (error: unknown) => {
          log.error({ err: error }, "stop failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    // Like the main process with an external broker: keep trying while the broker is away.
    await worker.start(false);
    log.info(
      { countyId: config.countyId, clientId: worker.clientId, filters: worker.filters },
      "chunk worker started",
    );
  } catch (error) {
    const coded = error instanceof DxgateError;
    const code = coded ? error.code : "INTERNAL";
    log.error({ code, err: coded ? undefined : error }, coded ? error.message : "chunk worker failed");
    if (coded) process.stderr.write(`dxgate-chunk-worker: ${error.message}\n`);
    process.exitCode = code === "CONFIG_INVALID" ? 78 : 1;
  }
}

if (import.meta.main) await main();

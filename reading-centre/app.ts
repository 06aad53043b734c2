/**
 * The reading centre, composed: stores, the embedded broker (unless an external one is configured),
 * the receiver, the report outbox and the HTTP API. `main.ts` is only the process around this;
 * tests build it in-process with port 0 and a temporary data directory.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Logger } from "../common/logger.ts";
import type { UpKind } from "../uploader/protocol/index.ts";
import { createApiRouter } from "./api/routes.ts";
import { TokenStore } from "./auth/tokens.ts";
import { DEMO_USER, UserStore } from "./auth/users.ts";
import { BoxRegistry as BoxCredentials } from "./boxes/registry.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./broker/broker.ts";
import { type ReadingCentreConfig, readBrokerCa } from "./config.ts";
import { rcError } from "./errors.ts";
import { BoxRegistry } from "./receiver/box-status.ts";
import { chunkHandler } from "./receiver/chunk-handler.ts";
import { commitHandler } from "./receiver/commit-handler.ts";
import type { ReceiverContext, UpHandler } from "./receiver/context.ts";
import { manifestHandler } from "./receiver/manifest-handler.ts";
import { previewHandler } from "./receiver/preview-handler.ts";
import { Receiver } from "./receiver/receiver.ts";
import { Staging } from "./receiver/staging.ts";
import { ReportOutbox } from "./reports/outbox.ts";
import { InstanceStore } from "./store/instance-store.ts";
import { PreviewStore } from "./store/preview-store.ts";
import { StudyStore } from "./store/study-store.ts";

/** The bound ports (real even when configured 0); `mqttTlsPort` only with a TLS listener. */
export interface ReadingCentrePorts {
  httpPort: number;
  mqttPort: number;
  mqttTlsPort?: number;
}

export interface ReadingCentre {
  /** Resolves once every listener is up. */
  start(): Promise<ReadingCentrePorts>;
  stop(): Promise<void>;
}

/** Abandoned transfers (the box gave up and started a new one) are removed after this long idle. */
const STAGING_MAX_IDLE_MS = 48 * 60 * 60 * 1000;
const STAGING_SWEEP_EVERY_MS = 60 * 60 * 1000;
/** Previews of a study whose data never arrived are removed after this long without a new one. */
const PREVIEW_ORPHAN_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

export function createReadingCentre(
  config: Readonly<ReadingCentreConfig>,
  options: { log: Logger },
): ReadingCentre {
  const log = options.log;
  const stops: Array<() => Promise<void> | void> = [];
  let started = false;
  let running = false;

  async function stop(): Promise<void> {
    // Last started, first stopped: HTTP, then timers and the receiver, then the broker.
    while (stops.length > 0) {
      try {
        await stops.pop()!();
      } catch (error) {
        log.warn({ reason: (error as Error).message }, "error while stopping");
      }
    }
    if (running) log.info({}, "reading centre stopped");
    started = false;
    running = false;
  }

  async function start(): Promise<ReadingCentrePorts> {
    if (started) throw new Error("the reading centre is already started");
    started = true;
    try {
      const ports = await startAll();
      running = true;
      return ports;
    } catch (error) {
      await stop();
      throw error;
    }
  }

  async function startAll(): Promise<ReadingCentrePorts> {
    const dataDir = config.dataDir;
    await mkdir(dataDir, { recursive: true });

    const users = await UserStore.open(dataDir);
    await checkAccounts(users, config.demo, log);

    const studies = await StudyStore.open(join(dataDir, "studies"), log.child({ component: "store" }));
    const instances = new InstanceStore(join(dataDir, "instances"));
    const previews = await PreviewStore.open(join(dataDir, "previews"), log.child({ component: "previews" }));
    const hasStudy = (key: { siteId: string; studyInstanceUid: string }) => studies.get(key) !== undefined;
    await previews.sweepOrphans(hasStudy, PREVIEW_ORPHAN_MAX_AGE_MS);
    const staging = new Staging(join(dataDir, "staging"), log.child({ component: "staging" }));
    await staging.load();
    await staging.sweep(STAGING_MAX_IDLE_MS);
    const boxes = new BoxRegistry(log.child({ component: "boxes" }));
    // Who the boxes are (credentials, keys); add-box changes it from another process, and it follows.
    const credentials = BoxCredentials.open(dataDir, log.child({ component: "box-registry" }));
    const outbox = new ReportOutbox({
      countyId: config.countyId,
      studies,
      retryMs: config.reportRetryMs,
      isOffline: (siteId) => boxes.isOffline(siteId),
      log: log.child({ component: "reports" }),
    });

    let broker: EmbeddedBroker | undefined;
    const internal = { username: "dxgate-rc-internal", password: randomBytes(32).toString("hex") };
    if (config.mqtt.brokerUrl === undefined) {
      broker = await startEmbeddedBroker({
        host: config.mqtt.host,
        port: config.mqtt.port,
        tls: config.mqtt.tls,
        countyId: config.countyId,
        internal,
        boxes: credentials,
        log: log.child({ component: "broker" }),
      });
      const b = broker;
      stops.push(() => b.close());
    }

    const receiverLog = log.child({ component: "receiver" });
    // The handlers read ctx.downlink when they answer; it becomes the receiver once that exists.
    const ctx: ReceiverContext = {
      countyId: config.countyId,
      boxes: credentials,
      requireSignatures: config.security.requireSignatures,
      maxChunkBytes: config.mqtt.maxChunkBytes,
      stagingQuotaBytes: config.quotas.stagingBytesPerBox,
      staging,
      studies,
      instances,
      previews,
      downlink: { publish: () => false },
      log: receiverLog,
    };
    // aedes has no shared subscriptions: the embedded broker always gets one plain subscription.
    const sharedChunks = broker === undefined && config.mqtt.sharedChunks;
    const handlers: Record<UpKind, UpHandler> = {
      manifest: manifestHandler(ctx),
      chunk: chunkHandler(ctx),
      // Only chunk workers can still be writing a missing chunk when its commit arrives; a lone
      // process answers INCOMPLETE at once instead of stalling every other message for seconds.
      commit: commitHandler(ctx, sharedChunks ? {} : { settleMs: 0, maxWaitMs: 0 }),
      "report-ack": outbox.ackHandler(),
      status: boxes.handler(),
      preview: previewHandler(ctx),
    };
    const brokerCa = readBrokerCa(config);
    const receiver = new Receiver({
      url: broker?.url ?? config.mqtt.brokerUrl!,
      countyId: config.countyId,
      ...(sharedChunks ? { sharedChunks: true } : {}),
      ...(brokerCa ? { tls: { ca: brokerCa } } : {}),
      ...(broker ? { username: internal.username, password: internal.password } : {}),
      handlers,
      onConnected: () => outbox.flush({ force: true }),
      log: receiverLog,
    });
    ctx.downlink = receiver;
    stops.push(() => receiver.stop());
    // The embedded broker is local and up, so a failure to connect is a real fault; an external one
    // may be down for a while, and the worklist should stay readable meanwhile.
    await receiver.start(broker !== undefined);

    outbox.start(receiver);
    stops.push(() => outbox.stop());
    boxes.onOnline((siteId) => outbox.flush({ siteId, force: true }));
    const sweeper = setInterval(() => {
      staging.sweep(STAGING_MAX_IDLE_MS).catch((error: unknown) => {
        log.warn({ reason: (error as Error).message }, "staging sweep failed");
      });
      previews.sweepOrphans(hasStudy, PREVIEW_ORPHAN_MAX_AGE_MS).catch((error: unknown) => {
        log.warn({ reason: (error as Error).message }, "preview sweep failed");
      });
    }, STAGING_SWEEP_EVERY_MS);
    sweeper.unref();
    stops.push(() => clearInterval(sweeper));

    const router = createApiRouter({
      users,
      tokens: new TokenStore(),
      studies,
      instances,
      previews,
      outbox,
      boxes,
      log: log.child({ component: "api" }),
    });
    const server: Server = createServer(router.handle);
    server.listen(config.http.port, config.http.host);
    await once(server, "listening");
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const httpPort = (server.address() as AddressInfo).port;
    log.info({ service: "http", host: config.http.host, port: httpPort }, "listening");

    const mqttPort = broker?.port ?? brokerPort(config.mqtt.brokerUrl!);
    log.info(
      {
        countyId: config.countyId,
        embeddedBroker: broker !== undefined,
        demo: config.demo,
        boxes: credentials.list().length,
        requireSignatures: config.security.requireSignatures,
      },
      "reading centre started",
    );
    return { httpPort, mqttPort, ...(broker?.tlsPort !== undefined ? { mqttTlsPort: broker.tlsPort } : {}) };
  }

  return { start, stop };
}

async function checkAccounts(users: UserStore, demo: boolean, log: Logger): Promise<void> {
  if (demo) {
    const created = await users.ensureDemoUser();
    log.info(
      { username: DEMO_USER.username, created },
      `demo mode: log in as ${DEMO_USER.username} / ${DEMO_USER.password}`,
    );
    return;
  }
  const weak = await users.usersWithDemoPassword();
  if (weak.length > 0) {
    throw rcError(
      "DEFAULT_PASSWORD",
      `refusing to start: user(s) ${weak.join(", ")} still have the demo password; ` +
        "set a real one with `add-user USERNAME` (password from DXGATE_RC_NEW_PASSWORD) or run with demo: true",
      { users: weak },
    );
  }
  if (users.list().length === 0) {
    log.warn({}, "no diagnostician accounts yet; create one with `reading-centre/main.ts add-user USERNAME`");
  }
}

function brokerPort(url: string): number {
  const parsed = new URL(url);
  if (parsed.port) return Number(parsed.port);
  return parsed.protocol === "mqtts:" || parsed.protocol === "tls:" ? 8883 : 1883;
}

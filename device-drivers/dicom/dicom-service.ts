/**
 * The DICOM network service's lifecycle: a TCP listener whose every connection gets its own
 * DxgateScp. We run our own net.Server instead of dcmjs-dimse's `Server` to bind a host, learn the
 * port chosen for port 0, set TCP_NODELAY, and drain in-flight C-STOREs on stop.
 */
import { createRequire } from "node:module";
import { createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import dimse from "dcmjs-dimse";
import type { Logger } from "../../common/logger.ts";
import type { CommitmentSource, InstanceSink, WorklistSource } from "../types.ts";
import { createAdmitter, defaultAllowUnknown, type KnownDevice } from "./admission.ts";
import { DEFAULT_AE_TITLE, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "./constants.ts";
import { DxgateScp, type ScpContext } from "./scp.ts";
import { StorageCommitmentScp } from "./storage-commitment.ts";
import { type DicomTlsOptions, listenTls } from "./tls-listener.ts";

export interface DicomServiceOptions {
  /** The called AE title we answer to; default "DXGATE". */
  aeTitle?: string;
  /** Interface to bind; default all interfaces. */
  host?: string;
  /** TCP port; 0 picks a free one (read it from `start()`). */
  port: number;
  sink: InstanceSink;
  /** Answers Modality Worklist C-FINDs (PS3.4 K.6); without it they are refused. */
  worklist?: WorklistSource;
  log: Logger;
  /** Largest P-DATA-TF PDU we accept, in bytes (PS3.8 D.1); default dcmjs-dimse's 256 KiB. */
  maxPduLength?: number;
  /**
   * Milliseconds a connection may wait before sending its A-ASSOCIATE-RQ (ARTIM, PS3.8 9.1.5), and
   * the least time an association may stay silent between PDUs; default 30 000.
   */
  associationTimeoutMs?: number;
  /** Milliseconds `stop()` waits for C-STOREs in progress before closing connections; default 10 000. */
  drainTimeoutMs?: number;
  /**
   * Who may associate (admission.ts): known devices, whether other Calling AE Titles are admitted
   * (default: only while `devices` is empty), and associations open at once (default 16).
   */
  admission?: { devices?: readonly KnownDevice[]; allowUnknown?: boolean; maxAssociations?: number };
  /** Milliseconds the peer may take to complete each PDU while it is its turn; default 60 000. */
  idleTimeoutMs?: number;
  /** A second listener for DICOM over TLS (tls-listener.ts). */
  tls?: DicomTlsOptions;
  /** Storage Commitment Push Model SCP (storage-commitment.ts); absent = N-ACTIONs are refused. */
  commitment?: {
    source: CommitmentSource;
    waitMs?: number;
    pollMs?: number;
    replyRetryDelaysMs?: readonly number[];
  };
}

export interface DicomService {
  /** Listen; resolves with the ports actually bound (`tlsPort` when TLS is configured). */
  start(): Promise<{ port: number; tlsPort?: number }>;
  /** Stop accepting, let C-STOREs in progress finish (bounded), close every connection. Idempotent. */
  stop(): Promise<void>;
}

/** dcmjs-dimse idles an association out after this long without a PDU (its default is 60 s). */
const MIN_PDU_TIMEOUT_MS = 60_000;

export function createDicomService(options: DicomServiceOptions): DicomService {
  const log = options.log.child({ component: "dicom" });
  const aeTitle = options.aeTitle ?? DEFAULT_AE_TITLE;
  const associationTimeoutMs = options.associationTimeoutMs ?? 30_000;
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<unknown>>();
  let server: Server | undefined;
  let tlsServer: TlsServer | undefined;
  let stopping: Promise<void> | undefined;
  const devices = options.admission?.devices ?? [];
  const maxAssociations = options.admission?.maxAssociations ?? 16;
  const commitment = options.commitment
    ? new StorageCommitmentScp({ ...options.commitment, aeTitle, log })
    : undefined;

  const context: ScpContext = {
    aeTitle,
    sink: options.sink,
    worklist: options.worklist,
    log,
    associationTimeoutMs,
    admitter: createAdmitter({
      devices,
      allowUnknown: options.admission?.allowUnknown ?? defaultAllowUnknown(devices),
      maxAssociations,
    }),
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    commitment,
    track(work) {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
    },
  };
  const scpOptions = {
    associationTimeout: associationTimeoutMs,
    pduTimeout: Math.max(associationTimeoutMs, MIN_PDU_TIMEOUT_MS),
  };

  const accept = (socket: Socket) => {
    // Beyond the association limit a connection still gets its A-ASSOCIATE-RJ (admission.ts); far
    // beyond it, connections are dropped before they cost anything.
    if (stopping || sockets.size >= 4 * maxAssociations) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const scp = new DxgateScp(socket, scpOptions, context);
    scp.on("networkError", (error: Error) => {
      // Garbage, a reset, a timeout: this connection ends, the service and other associations go on.
      log.warn({ event: "network-error", remoteAddress: socket.remoteAddress, error: error.message });
      // PS3.8 9.3.8 / state machine AA-1..AA-8: a PDU we cannot take is answered with A-ABORT from the
      // service provider before the connection closes, so the peer is told rather than left waiting.
      // Written raw: dcmjs-dimse will not abort without an association (e.g. a request it could not
      // parse), and a second abort after its own does no harm.
      if (socket.writable) socket.write(RAW_PROVIDER_ABORT);
      socket.end();
      setTimeout(() => socket.destroy(), 2_000).unref();
    });
  };

  return {
    async start() {
      if (server || stopping) throw new Error("DICOM service already started or stopped");
      configureDimse(options.maxPduLength);
      const listening = createServer(accept);
      listening.on("error", (error) => log.error({ event: "listener-error", error: error.message }));
      server = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(options.port, options.host, () => {
          listening.off("error", reject);
          resolve();
        });
      });
      const address = listening.address();
      const port = typeof address === "object" && address ? address.port : options.port;
      log.info({ event: "listening", aeTitle, host: options.host ?? "", port }, "DICOM service listening");
      if (!options.tls) return { port };
      const secure = await listenTls(options.tls, options.host, log, accept);
      tlsServer = secure.server;
      log.info({ event: "listening", tls: true, aeTitle, port: secure.port }, "DICOM TLS listening");
      return { port, tlsPort: secure.port };
    },

    stop() {
      stopping ??= (async () => {
        const listening = server;
        if (!listening) return;
        const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
        const secure = tlsServer;
        const tlsClosed = secure && new Promise<void>((resolve) => secure.close(() => resolve()));
        commitment?.stop();
        await waitAtMost(Promise.all(inFlight), options.drainTimeoutMs ?? 10_000);
        for (const socket of sockets) socket.destroy();
        await closed;
        await tlsClosed;
        log.info({ event: "stopped" }, "DICOM service stopped");
      })();
      return stopping;
    },
  };
}

/**
 * dcmjs-dimse keeps these settings in module-wide statics: silence its console logger (we log
 * ourselves, without datasets), and state our implementation identity and PDU size.
 */
/** A-ABORT PDU (PS3.8 9.3.8): type 07, length 4, source 2 (service-provider), reason 0 (not specified). */
const RAW_PROVIDER_ABORT = Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00]);

/** The dcmjs copy dcmjs-dimse itself loads (node_modules/dcmjs-dimse/node_modules/dcmjs). */
const dimseDcmjs = createRequire(createRequire(import.meta.url).resolve("dcmjs-dimse"))("dcmjs") as {
  log: { setLevel(level: "silent"): void };
};

function configureDimse(maxPduLength: number | undefined): void {
  dimse.log.setLevel("silent");
  // dcmjs-dimse parses command sets with its own copy of dcmjs, whose logger prints a stack trace
  // to the console for every malformed command: a peer could flood stderr. Our logs say enough.
  dimseDcmjs.log.setLevel("silent");
  dimse.Implementation.setImplementationClassUid(IMPLEMENTATION_CLASS_UID);
  dimse.Implementation.setImplementationVersion(IMPLEMENTATION_VERSION_NAME);
  if (maxPduLength !== undefined) dimse.Implementation.setMaxPduLength(maxPduLength);
}

async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, timeout]);
  clearTimeout(timer);
}

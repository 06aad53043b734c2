/**
 * The gateway, composed: spool and study index, the DICOM service feeding them, the uploader
 * draining them, the report inbox and the JSON API. `createGateway` builds it without touching the
 * process (tests run it in-process on port 0); main.ts owns the process.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Logger } from "../common/logger.ts";
import {
  createDicomService,
  createEcgStore,
  createMediaImporter,
  createSerialService,
  sha256Hex,
} from "../device-drivers/index.ts";
import { createUploader } from "../uploader/index.ts";
import { createApi } from "./api/routes.ts";
import { dicomAccessOptions } from "./commitment/dicom-options.ts";
import { type GatewayConfig, loadBrokerCredentials, serialDevicesOf, serialProfilesOf } from "./config.ts";
import { addDeviceRoutes } from "./ecg/device-routes.ts";
import { RegistrationEcgContext } from "./ecg/ecg-context.ts";
import { addEcgRoutes } from "./ecg/ecg-routes.ts";
import { addImportRoutes } from "./imports/import-routes.ts";
import { registrationLinker } from "./registrations/registration-link.ts";
import { addRegistrationRoutes } from "./registrations/registration-routes.ts";
import { RegistrationStore } from "./registrations/registration-store.ts";
import { FileReportInbox } from "./reports/report-inbox.ts";
import { addReportRoutes } from "./reports/report-routes.ts";
import { DiskReserve } from "./spool/disk-reserve.ts";
import { Spool } from "./spool/spool.ts";
import { StudyIndex } from "./studies/study-index.ts";
import { StudyService } from "./studies/study-service.ts";

export interface Gateway {
  start(): Promise<{ dicomPort: number; httpPort: number }>;
  stop(): Promise<void>;
  readonly studies: StudyService;
}

export function createGateway(config: Readonly<GatewayConfig>, deps: { log: Logger }): Gateway {
  const log = deps.log;
  const spoolRoot = join(config.dataDir, "spool");
  const reserve = new DiskReserve({
    path: spoolRoot,
    reserveBytes: config.spool.reserveMb * 1024 * 1024,
    log: log.child({ ns: "spool" }),
  });
  const spool = new Spool(spoolRoot, { reserve });
  const index = new StudyIndex(config.dataDir);
  const registrations = new RegistrationStore({
    dataDir: config.dataDir,
    log: log.child({ ns: "registrations" }),
    expireAtEndOfDay: config.worklist.expireAtEndOfDay,
    retentionHours: config.worklist.retentionHours,
    studyState: (uid): string | undefined => studies.get(uid)?.state,
  });
  const studies = new StudyService({
    linkRegistration: registrationLinker(registrations),
    spool,
    index,
    log: log.child({ ns: "studies" }),
    quietPeriodMs: config.studies.quietPeriodMs,
    defaultPriority: config.studies.defaultPriority,
    ecgPriority: config.studies.ecgPriority,
  });
  const inbox = new FileReportInbox(config.dataDir, studies, log.child({ ns: "reports" }));
  const dicom = createDicomService({
    aeTitle: config.dicom.aeTitle,
    host: config.dicom.host,
    port: config.dicom.port,
    sink: studies,
    worklist: registrations,
    log: log.child({ ns: "dicom" }),
    ...dicomAccessOptions(config.dicom, { spool, studies }),
  });
  // Checked already by loadGatewayConfig; read here so the key and certificates live only in memory
  // of the uploader, never in the (logged, frozen) configuration.
  const { tls, signingKey } = loadBrokerCredentials(config.broker);
  const uploader = createUploader({
    brokerUrl: config.broker.url,
    ...(tls ? { tls } : {}),
    ...(signingKey ? { signingKey } : {}),
    site: { countyId: config.countyId, siteId: config.siteId },
    queue: studies,
    inbox,
    log: log.child({ ns: "uploader" }),
    chunkSize: config.upload.chunkSize,
    window: config.upload.window,
    ackTimeoutMs: config.upload.ackTimeoutMs,
    manifestAckTimeoutMs: config.upload.manifestAckTimeoutMs,
    retry: { baseMs: config.upload.retryBaseMs, maxMs: config.upload.retryMaxMs },
    bandwidth: config.upload.bandwidth,
    keepaliveSeconds: config.upload.keepaliveSeconds,
  });
  const api = createApi({
    studies,
    log: log.child({ ns: "api" }),
    siteId: config.siteId,
    uploaderConnected: () => uploader.isConnected(),
  });
  addRegistrationRoutes(api, registrations);
  // Every ECG (serial line or file) becomes a DICOM ECG linked to its registration, then is stored
  // like any instance.
  const ecg = createEcgStore({
    sink: studies,
    context: new RegistrationEcgContext(registrations),
    log: log.child({ ns: "ecg" }),
    stationName: config.siteId.slice(0, 16),
  });
  const serial = createSerialService({
    profiles: serialProfilesOf(config.serial),
    devices: serialDevicesOf(config.serial),
    watch: { enabled: config.serial.watch, rescanMs: config.serial.rescanMs },
    sysfsRoot: config.serial.sysfsRoot,
    reopen: { baseMs: config.serial.reopenBaseMs, maxMs: config.serial.reopenMaxMs },
    idleMs: config.serial.receivingIdleMs,
    onRecord: async (record, origin, raw) => {
      await ecg.store(
        record,
        { kind: "serial", devicePath: origin.devicePath, profile: origin.profile.id },
        {
          ...(origin.profile.priority ? { priority: origin.profile.priority } : {}),
          ...(raw ? { sourceSha256: sha256Hex(raw) } : {}),
        },
      );
    },
    log: log.child({ ns: "serial" }),
  });
  addDeviceRoutes(api, serial);
  addEcgRoutes(api, { studies, spool, log: log.child({ ns: "ecg" }) });
  addReportRoutes(api, { studies, spool, log: log.child({ ns: "reports" }), siteName: config.siteId });
  const importer = createMediaImporter({
    sink: studies,
    log: log.child({ ns: "imports" }),
    stateDir: join(config.dataDir, "imports"),
    folders: config.import.folders,
    usbMountRoot: config.import.usbMountRoot,
    scanIntervalMs: config.import.scanIntervalMs,
    ecg,
  });
  addImportRoutes(api, importer);
  let http: Server | undefined;
  let dicomStarted = false;
  let importerStarted = false;
  let serialStarted = false;
  let uploaderStarted = false;

  return {
    studies,
    async start() {
      const { discardedStagingFiles } = await spool.open();
      await index.open();
      await registrations.open();
      const reconciled = await studies.reconcile();
      const reports = await inbox.restore();
      log.info({ ...reconciled, reports, discardedStagingFiles }, "spool and index reconciled");

      http = createServer(api.handle);
      const httpServer = http;
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(config.http.port, config.http.host, () => resolve());
      });
      const httpPort = (httpServer.address() as AddressInfo).port;
      log.info({ service: "http", host: config.http.host, port: httpPort }, "listening");

      const { port: dicomPort } = await dicom.start();
      dicomStarted = true;
      log.info(
        { service: "dicom", host: config.dicom.host, port: dicomPort, aeTitle: config.dicom.aeTitle },
        "listening",
      );

      await uploader.start();
      uploaderStarted = true;
      await importer.start();
      importerStarted = true;
      await serial.start();
      serialStarted = true;
      return { dicomPort, httpPort };
    },
    async stop() {
      // Reverse order: stop taking instances, then stop sending, then stop answering.
      // ECGs already complete are still stored; only those waiting to be offered again are given up.
      ecg.stop();
      if (serialStarted) await serial.stop();
      if (importerStarted) await importer.stop();
      if (dicomStarted) await dicom.stop();
      if (uploaderStarted) await uploader.stop();
      if (http) {
        const server = http;
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
      }
      await studies.stop();
      await spool.close();
    },
  };
}

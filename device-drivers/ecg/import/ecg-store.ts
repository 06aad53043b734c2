/**
 * Every ECG that reaches the box — a record from a serial line, an ECG file from a stick or a
 * watched folder — goes the same way from here: the box's registration of the patient is looked up
 * (EcgContextSource), the record becomes a standard DICOM ECG waveform instance, its 12-lead sheet
 * is rendered as the preview, and both are handed to the InstanceSink like any DICOM instance.
 *
 * A serial line has nobody to retry a refusal: when the sink refuses for a passing reason (disk
 * below its reserve), the record is kept in memory and offered again for a while; only a stop or
 * running out of attempts gives it up, logged as lost.
 */
import type { Logger } from "../../../common/logger.ts";
import type {
  EcgContextSource,
  EcgOrigin,
  EcgRegistration,
  InstanceSink,
  ReceivedInstance,
  StoreResult,
} from "../../types.ts";
import { buildDicomEcgSet, type DicomEcgContext, type DicomEcgInstance } from "../dicom/index.ts";
import type { EcgRecord } from "../ecg-record.ts";
import { PREVIEW_DPI, renderEcgPng, sheetPixelSize } from "../render/index.ts";
import { contentUids } from "./content-uids.ts";

export interface EcgStoreOptions {
  sink: InstanceSink;
  /** The box's registrations; absent = every ECG is stored as the device recorded it. */
  context?: EcgContextSource;
  log: Logger;
  /** The box's name on its ECGs (DICOM Station Name, SH: 16 characters). */
  stationName?: string;
  /** Render the 12-lead sheet as the preview (default true). */
  preview?: boolean;
  /** Offer a record refused for a passing reason again: how often, and how long apart. */
  retry?: { attempts: number; delayMs: number };
}

export type EcgStoreOutcome = StoreResult & {
  /** Set when a DICOM instance was made (stored, duplicate, or refused by the sink). */
  studyInstanceUid?: string;
  sopInstanceUid?: string;
  /** The registration the ECG was linked to; absent = unregistered. */
  registrationId?: string;
};

export interface EcgStoreRecordOptions {
  priority?: "stat" | "urgent" | "routine";
  /**
   * SHA-256 (hex) of the bytes the record was decoded from (an SCP-ECG record, an ECG file): its
   * UIDs then follow from them, so the same bytes again replace the instance, not add a study.
   */
  sourceSha256?: string;
}

export interface EcgStore {
  store(record: EcgRecord, origin: EcgOrigin, options?: EcgStoreRecordOptions): Promise<EcgStoreOutcome>;
  /** Stop retrying: records waiting for a retry are given up (logged). */
  stop(): void;
}

const DEFAULT_RETRY = { attempts: 60, delayMs: 5000 };

export function createEcgStore(options: EcgStoreOptions): EcgStore {
  let stopping = false;
  const wakeups = new Set<() => void>();
  const retry = options.retry ?? DEFAULT_RETRY;
  const log = options.log;

  async function registrationFor(record: EcgRecord, origin: EcgOrigin): Promise<EcgRegistration | undefined> {
    try {
      return await options.context?.contextFor(record, origin);
    } catch (error) {
      // Not knowing the registration must not lose the ECG: store it unlinked.
      log.error(
        { event: "ecg-context-failed", err: error },
        "registration lookup failed; ECG stored unlinked",
      );
      return undefined;
    }
  }

  async function preview(
    record: EcgRecord,
  ): Promise<NonNullable<Parameters<InstanceSink["store"]>[0]["preview"]>> {
    const bytes = await renderEcgPng(record, { dpi: PREVIEW_DPI });
    const { widthPx, heightPx } = sheetPixelSize(PREVIEW_DPI);
    return { mediaType: "image/png", bytes, width: widthPx, height: heightPx };
  }

  /** Store, offering it again while the sink refuses for a passing reason (see the header). */
  async function offer(instance: ReceivedInstance): Promise<StoreResult> {
    for (let attempt = 1; ; attempt++) {
      const result = await options.sink.store(instance);
      if (result.status !== "refused" || !result.retryable || attempt >= retry.attempts || stopping) {
        return result;
      }
      if (attempt === 1) {
        log.warn(
          { event: "ecg-store-retry", code: result.code, sopInstanceUid: instance.attributes.sopInstanceUid },
          "ECG refused for now; will offer it again",
        );
      }
      await pause(retry.delayMs);
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakeups.add(wake);
    });
  }

  return {
    async store(record, origin, storeOptions = {}) {
      const registration = await registrationFor(record, origin);
      const context: DicomEcgContext = {
        ...(storeOptions.sourceSha256 ? contentUids(storeOptions.sourceSha256) : {}),
        // A registration's pre-assigned Study Instance UID wins: the ECG joins its study.
        ...(registration ? dicomContextOf(registration) : {}),
        ...(options.stationName ? { stationName: options.stationName.slice(0, 16) } : {}),
      };
      let instances: DicomEcgInstance[];
      try {
        // One 12-lead instance, plus a General ECG instance of the median beats when the cart sent them.
        instances = buildDicomEcgSet(record, context);
      } catch (error) {
        const code = (error as { code?: string }).code ?? "ECG_DICOM_FAILED";
        log.error({ event: "ecg-dicom-failed", code, origin: origin.kind }, (error as Error).message);
        return { status: "refused", code, reason: (error as Error).message, retryable: false };
      }
      const main = instances[0]!;
      const ids = {
        studyInstanceUid: main.studyInstanceUid,
        sopInstanceUid: main.sopInstanceUid,
        ...(registration ? { registrationId: registration.registrationId } : {}),
      };
      let picture: Awaited<ReturnType<typeof preview>> | undefined;
      if (options.preview !== false) {
        try {
          // The sheet shows the patient as the DICOM names them (the registration's, when linked).
          picture = await preview(registration ? withRegisteredPatient(record, registration) : record);
        } catch (error) {
          log.warn(
            { event: "ecg-preview-failed", err: error, ...ids },
            "ECG preview not rendered; stored without",
          );
        }
      }
      let outcome: EcgStoreOutcome | undefined;
      for (const [index, instance] of instances.entries()) {
        const result = await offer({
          attributes: instance.attributes,
          source: origin,
          part10: { kind: "bytes", bytes: instance.bytes },
          ...(storeOptions.priority ? { priority: storeOptions.priority } : {}),
          // The sheet goes with the rhythm instance (the one every viewer opens).
          ...(picture && index === 0 ? { preview: picture } : {}),
        });
        const stored = result.status !== "refused";
        log[stored ? "info" : "error"](
          {
            event: stored ? "ecg-stored" : "ecg-lost",
            status: result.status,
            ...(stored ? {} : { code: result.code }),
            origin: origin.kind,
            format: record.source.format,
            registered: registration !== undefined,
            instance: index + 1,
            of: instances.length,
            notes: instance.notes.length,
            studyInstanceUid: instance.studyInstanceUid,
            sopInstanceUid: instance.sopInstanceUid,
          },
          stored ? "ECG stored" : `ECG not stored: ${result.reason}`,
        );
        // The outcome is the rhythm instance's; a median-beat instance refused is logged above.
        outcome ??= { ...result, ...ids };
        if (!stored && index === 0) break;
      }
      return outcome!;
    },
    stop() {
      stopping = true;
      for (const wake of [...wakeups]) wake();
    },
  };
}

function dicomContextOf(registration: EcgRegistration): DicomEcgContext {
  return {
    studyInstanceUid: registration.studyInstanceUid,
    patientId: registration.patientId,
    patientName: registration.patientName,
    patientSex: registration.patientSex,
    patientBirthDate: registration.patientBirthDate,
    accessionNumber: registration.accessionNumber,
    requestedProcedureId: registration.requestedProcedureId,
    scheduledProcedureStepId: registration.scheduledProcedureStepId,
    ...(registration.studyDescription ? { studyDescription: registration.studyDescription } : {}),
  };
}

function withRegisteredPatient(record: EcgRecord, registration: EcgRegistration): EcgRecord {
  return {
    ...record,
    patient: {
      ...record.patient,
      id: registration.patientId,
      name: registration.patientName,
      sex: registration.patientSex,
      birthDate: registration.patientBirthDate,
    },
    acquisition: { ...record.acquisition, accessionNumber: registration.accessionNumber },
  };
}

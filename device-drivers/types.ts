import type { FileHandle } from "node:fs/promises";

/**
 * What device drivers need from whoever composes them. Drivers know nothing of the gateway: they
 * declare these shapes, the gateway implements them.
 */
import type { EcgRecord } from "./ecg/ecg-record.ts";

/** Where an instance came from (never patient data; safe to log). */
export type InstanceSource =
  | { kind: "dicom"; callingAeTitle: string; calledAeTitle: string; remoteAddress: string }
  | { kind: "serial"; devicePath: string; profile: string }
  | { kind: "file"; path: string };

/** The attributes of an instance the gateway indexes and forwards (decoded to Unicode text). */
export interface InstanceAttributes {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  modality: string;
  patientId: string;
  patientName: string;
  patientSex: string;
  patientBirthDate: string;
  patientAge: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
}

/** A received instance, complete, as a DICOM Part 10 file (preamble, file meta, dataset). */
export interface ReceivedInstance {
  attributes: InstanceAttributes;
  source: InstanceSource;
  /**
   * The Part 10 bytes, or a file the driver already streamed them to. Such a file must lie on the
   * sink's filesystem: take its path from `InstanceSink.stagingPath()`; the sink fsyncs it (so a
   * driver need not: one fsync per instance, not two). Ownership: on `stored` or `duplicate` the sink owns the file (moves or deletes it); on
   * `refused` or an exception the driver deletes it.
   *
   * `handle`: the file still open read-write, when the driver has it (saves the sink reopening it
   * to fsync). It passes to the sink with the call: the sink closes it, whatever the outcome.
   */
  part10: { kind: "bytes"; bytes: Uint8Array } | { kind: "file"; path: string; handle?: FileHandle };
  /**
   * The priority the device asks for its studies (an ECG device profile's `priority`); absent =
   * the gateway's default for the modality. Applies when the instance starts a study.
   */
  priority?: "stat" | "urgent" | "routine";
  /**
   * A picture of the instance the driver rendered (an ECG's 12-lead sheet), stored durably beside
   * it, so the upload can send it ahead of the study. Optional: an instance stores without one.
   */
  preview?: { mediaType: "image/png"; bytes: Uint8Array; width?: number; height?: number };
}

/**
 * The outcome the device is told. `stored` and `duplicate` are successes (the instance is durably
 * held); `refused` carries the reason and whether the device should retry later.
 */
export type StoreResult =
  | { status: "stored" }
  | { status: "duplicate" }
  | { status: "refused"; code: string; reason: string; retryable: boolean };

export interface InstanceSink {
  /**
   * Durably store one instance. Resolves only after the instance is on disk and fsynced; only then
   * may a driver acknowledge it to the device (C-STORE success, ECG cart handshake, …).
   */
  store(instance: ReceivedInstance): Promise<StoreResult>;
  /** A fresh temporary path on the sink's filesystem for a driver to stream an instance into. */
  stagingPath(): Promise<string>;
}

/**
 * One Modality Worklist entry (PS3.4 K.6.1.2.2, Table K.6-1): a Scheduled Procedure Step with its
 * Requested Procedure, Imaging Service Request and Patient. Text is Unicode; dates are DICOM DA
 * (YYYYMMDD), times TM (HHMMSS); names are DICOM PN (`Family^Given`, groups split by `=`).
 */
export interface WorklistItem {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  accessionNumber: string;
  referringPhysicianName: string;
  requestedProcedureId: string;
  requestedProcedureDescription: string;
  /** Pre-assigned by the box so the modality puts its images in this study. */
  studyInstanceUid: string;
  modality: string;
  scheduledStationAeTitle: string;
  scheduledProcedureStepStartDate: string;
  scheduledProcedureStepStartTime: string;
  scheduledProcedureStepId: string;
  scheduledProcedureStepDescription: string;
}

/** An inclusive DA or TM range (PS3.4 C.2.2.2.5); an open end is absent. */
export interface ValueRange {
  from?: string;
  to?: string;
}

/**
 * The match keys of a worklist C-FIND, decoded. An absent key matches everything (universal
 * matching, PS3.4 C.2.2.2.3). Text keys may hold the wildcards `*` and `?` (PS3.4 C.2.2.2.4).
 */
export interface WorklistQuery {
  patientName?: string;
  patientId?: string;
  accessionNumber?: string;
  modality?: string;
  scheduledStationAeTitle?: string;
  scheduledProcedureStepStartDate?: ValueRange;
  scheduledProcedureStepStartTime?: ValueRange;
  scheduledProcedureStepId?: string;
  requestedProcedureId?: string;
  studyInstanceUid?: string;
}

export interface WorklistSource {
  /**
   * The scheduled items that may match `query`. A superset is fine: the DICOM service applies the
   * PS3.4 matching rules itself before answering, so a source may filter only coarsely (or not at all).
   */
  find(query: WorklistQuery): Promise<WorklistItem[]>;
}

/**
 * What the Storage Commitment SCP asks of whoever holds the instances (PS3.4 J.3): may we commit
 * to this instance? `committed` = held durably as configured; `pending` = received, not yet
 * committable (e.g. not yet acknowledged by the county), ask again later; `unknown` = not held
 * (failure 0112H); `conflict` = held, but under another SOP Class (failure 0119H).
 */
export type CommitmentStatus = "committed" | "pending" | "unknown" | "conflict";

/** Where an ECG record came from: a serial device or a file (never patient data; safe to log). */
export type EcgOrigin = Extract<InstanceSource, { kind: "serial" | "file" }>;

/**
 * The box's registration of the patient an ECG belongs to, as the ECG's DICOM needs it. Every
 * field replaces what the device recorded (the registration desk checked the patient's ID card).
 * Field meanings as in device-drivers/ecg/dicom DicomEcgContext.
 */
export interface EcgRegistration {
  registrationId: string;
  /** Pre-assigned at registration: the ECG joins that study, and the study links to the registration. */
  studyInstanceUid: string;
  patientId: string;
  /** DICOM PN. */
  patientName: string;
  patientSex: "M" | "F" | "O";
  /** DA, YYYYMMDD. */
  patientBirthDate: string;
  accessionNumber: string;
  requestedProcedureId: string;
  scheduledProcedureStepId: string;
  studyDescription?: string;
}

export interface EcgContextSource {
  /**
   * The registration an arriving ECG belongs to, or undefined when it cannot be told (the ECG is
   * then stored as the device recorded it, unlinked, and shown as unregistered). The gateway's rule
   * (gateway/ecg/ecg-context.ts) uses the accession number or patient ID the record carries.
   */
  contextFor(
    record: EcgRecord,
    origin: EcgOrigin,
  ): EcgRegistration | undefined | Promise<EcgRegistration | undefined>;
}

export interface CommitmentSource {
  status(sopInstanceUid: string, sopClassUid: string): Promise<CommitmentStatus>;
}

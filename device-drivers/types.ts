/**
 * What device drivers need from whoever composes them. Drivers know nothing of the gateway: they
 * declare these shapes, the gateway implements them.
 */

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
   * sink's filesystem: take its path from `InstanceSink.stagingPath()`, and fsync it before the
   * call. Ownership: on `stored` or `duplicate` the sink owns the file (moves or deletes it); on
   * `refused` or an exception the driver deletes it.
   */
  part10: { kind: "bytes"; bytes: Uint8Array } | { kind: "file"; path: string };
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

/**
 * ECGs into the box: one pipeline (record → registration → DICOM ECG + preview → InstanceSink)
 * shared by the serial drivers and the media importer, and the ECG file formats it reads.
 */

export { type ContentUids, contentUids, sha256Hex } from "./content-uids.ts";
export {
  decodeEcgFile,
  detectEcgFile,
  ECG_FILE_HEAD_BYTES,
  type EcgFileFormat,
  MAX_ECG_FILE_BYTES,
} from "./ecg-files.ts";
export {
  createEcgStore,
  type EcgStore,
  type EcgStoreOptions,
  type EcgStoreOutcome,
  type EcgStoreRecordOptions,
} from "./ecg-store.ts";

/**
 * The device drivers' public surface: the gateway composes drivers from here and implements the
 * ports declared in ./types.ts. Anything not exported here is private to device-drivers/.
 */

export type { KnownDevice } from "./dicom/admission.ts";
export {
  DEFAULT_AE_TITLE,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from "./dicom/constants.ts";
export { createDicomService, type DicomService, type DicomServiceOptions } from "./dicom/dicom-service.ts";
export type { DicomTlsOptions } from "./dicom/tls-listener.ts";
export { MODALITY_WORKLIST_FIND } from "./dicom/worklist-constants.ts";
export { matchesWorklistQuery } from "./dicom/worklist-matching.ts";
export { readDicomEcg } from "./ecg/dicom/index.ts";
export type { EcgRecord } from "./ecg/ecg-record.ts";
export { createEcgStore, type EcgStore, type EcgStoreOutcome, sha256Hex } from "./ecg/import/index.ts";
export { renderEcgPng, renderEcgSvg } from "./ecg/render/index.ts";
export type { ImportJob, ImportJobState, ImportSourceKind } from "./media/import-jobs.ts";
export {
  createMediaImporter,
  type MediaImporter,
  type MediaImporterOptions,
} from "./media/media-importer.ts";
export type { DeviceProfile } from "./serial/profile.ts";
export { loadProfiles } from "./serial/profile-loader.ts";
export type { SerialDeviceState, SerialDeviceStatus } from "./serial/serial-device.ts";
export {
  createSerialService,
  type SerialService,
  type SerialServiceOptions,
} from "./serial/serial-service.ts";
export type {
  CommitmentSource,
  CommitmentStatus,
  EcgContextSource,
  EcgOrigin,
  EcgRegistration,
  InstanceAttributes,
  InstanceSink,
  InstanceSource,
  ReceivedInstance,
  StoreResult,
  ValueRange,
  WorklistItem,
  WorklistQuery,
  WorklistSource,
} from "./types.ts";

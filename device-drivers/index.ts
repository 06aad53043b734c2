/**
 * The device drivers' public surface: the gateway composes drivers from here and implements the
 * ports declared in ./types.ts. Anything not exported here is private to device-drivers/.
 */
export {
  DEFAULT_AE_TITLE,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from "./dicom/constants.ts";
export { createDicomService, type DicomService, type DicomServiceOptions } from "./dicom/dicom-service.ts";
export { MODALITY_WORKLIST_FIND } from "./dicom/worklist-constants.ts";
export { matchesWorklistQuery } from "./dicom/worklist-matching.ts";
export type {
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

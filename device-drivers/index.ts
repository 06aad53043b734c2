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
export type {
  InstanceAttributes,
  InstanceSink,
  InstanceSource,
  ReceivedInstance,
  StoreResult,
} from "./types.ts";

/**
 * DICOM ECG waveforms: an EcgRecord written as a 12-Lead or General ECG Waveform Storage instance
 * (the box's standard ECG output, which then travels like any DICOM study), and a DICOM ECG read
 * back into an EcgRecord (the simulator plays those into a serial line).
 */
export { DICOM_ECG_ERROR_CODES, DicomEcgError, type DicomEcgErrorCode } from "./errors.ts";
export { readDicomEcg } from "./read-dicom-ecg.ts";
export { derivedUid } from "./uid.ts";
export { SOP_CLASS as ECG_SOP_CLASS } from "./waveform-layout.ts";
export {
  buildDicomEcg,
  buildDicomEcgSet,
  type DicomEcgContext,
  type DicomEcgInstance,
  writeDicomEcg,
} from "./write-dicom-ecg.ts";

/** PhysioNet WFDB records (.hea + signal files) read as EcgRecords: a source for the ECG simulator. */
export { parseWfdbHeader, WfdbError, type WfdbHeader, type WfdbSignal } from "./header.ts";
export { normaliseLeadName } from "./lead-names.ts";
export { readWfdbRecord } from "./read-record.ts";
export { SUPPORTED_FORMATS } from "./signal-formats.ts";

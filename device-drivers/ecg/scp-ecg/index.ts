/**
 * SCP-ECG (EN 1064 / ISO 11073-91064): records from a file or a serial line → EcgRecord, and back.
 */
export { decodeScpEcg, decodeScpEcgDetailed, type ScpEcgDetails } from "./decode.ts";
export { encodeScpEcg, type ScpEncodeOptions } from "./encode.ts";
export { SCP_ERROR_CODES, ScpEcgError, type ScpErrorCode } from "./errors.ts";
export { leadCode, leadName } from "./lead-codes.ts";
export { createScpEcgLineDecoder, SCP_GARBAGE, type ScpLineDecoderOptions } from "./line-decoder.ts";
export type { ScpDevice, ScpSection1, ScpSection1Extras } from "./section1.ts";
export type { ScpCharacterSet } from "./text.ts";

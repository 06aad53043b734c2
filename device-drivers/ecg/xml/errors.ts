/**
 * The one error an ECG XML export can be refused with. Codes are stable (staff look them up);
 * messages say what is wrong with the file and never quote patient data.
 */
import { DxgateError } from "../../../common/errors.ts";

export const ECG_XML_ERROR_CODES = [
  /** The root element is none of AnnotatedECG, restingecgdata, RestingECG. */
  "ECG_XML_UNKNOWN_DIALECT",
  /** A known dialect, but the document carries no waveform we can read. */
  "ECG_XML_NO_WAVEFORM",
  /** Not well-formed XML, or a value that breaks the dialect's own rules. */
  "ECG_XML_MALFORMED",
  /** Philips XLI-compressed waveform data that does not decompress as XLI. */
  "ECG_XML_XLI_CORRUPT",
  /** Bigger than the box accepts (file bytes, leads, or samples). */
  "ECG_XML_TOO_LARGE",
  /** Well-formed and understood, but a variant this decoder does not handle (encoding, unit, compression). */
  "ECG_XML_UNSUPPORTED",
] as const;

export type EcgXmlErrorCode = (typeof ECG_XML_ERROR_CODES)[number];

export class EcgXmlError extends DxgateError {
  declare readonly code: EcgXmlErrorCode;

  constructor(code: EcgXmlErrorCode, message: string, details?: Record<string, unknown>) {
    // 422: the file arrived fine, its content cannot be used.
    super(code, message, 422, details);
    this.name = "EcgXmlError";
  }
}

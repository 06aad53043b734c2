/** Error codes of box provisioning (registry, add-box, the county CA); the README lists them. */
import { DxgateError } from "../../common/errors.ts";

export const BOX_ERRORS = {
  /** The site id is not a valid one (protocol ID pattern) or is reserved; `details.field` names it. */
  BOX_INVALID: 400,
  /** No box with this site id in the registry. */
  BOX_UNKNOWN: 404,
  /** `<dataDir>/boxes.json` cannot be read or has an unknown format version. */
  BOXES_INVALID: 500,
  /** The county CA is missing, or openssl failed while issuing a key or certificate. */
  PKI_FAILED: 500,
} as const;

export type BoxErrorCode = keyof typeof BOX_ERRORS;

export function boxError(
  code: BoxErrorCode,
  message: string,
  details?: Record<string, unknown>,
): DxgateError {
  return new DxgateError(code, message, BOX_ERRORS[code], details);
}

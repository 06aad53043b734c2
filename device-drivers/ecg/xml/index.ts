/**
 * ECG XML exports from carts (HL7 aECG, Philips SierraECG/PageWriter, GE MUSE) → EcgRecord.
 */
export {
  decodeEcgXml,
  decodeGeMuseXml,
  decodeHl7Aecg,
  decodePhilipsXml,
  detectEcgXmlDialect,
  type EcgXmlDialect,
} from "./decode-ecg-xml.ts";
export { ECG_XML_ERROR_CODES, EcgXmlError, type EcgXmlErrorCode } from "./errors.ts";
export { MAX_XML_BYTES } from "./limits.ts";

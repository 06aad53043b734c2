/**
 * ECG files carts export (to a USB stick or a shared folder): SCP-ECG (`.scp`) and the XML exports
 * (HL7 aECG, Philips SierraECG / PageWriter, GE MUSE). Which one a file is comes from its first
 * bytes — the "SCPECG" marker in section 0's header, the XML root element — not its name, except
 * that a file named `.scp` without the marker is still taken as SCP-ECG, so a broken or non-standard
 * export (some handhelds write their own layout under that name) is reported as failed, not
 * passed over in silence.
 */

import type { EcgRecord } from "../ecg-record.ts";
import { decodeScpEcg } from "../scp-ecg/index.ts";
import { decodeEcgXml, detectEcgXmlDialect, type EcgXmlDialect, MAX_XML_BYTES } from "../xml/index.ts";

export type EcgFileFormat = "scp-ecg" | EcgXmlDialect;

/** Bytes of a file's start enough to tell its format (the aECG root may follow long comments). */
export const ECG_FILE_HEAD_BYTES = 64 * 1024;

/** Largest ECG file read: a long SCP-ECG record or XML export; anything bigger is not an ECG export. */
export const MAX_ECG_FILE_BYTES = Math.max(MAX_XML_BYTES, 32 * 1024 * 1024);

/** SCP-ECG: 6-byte record header, then section 0's 16-byte header whose last 6 bytes read "SCPECG". */
const SCP_MARKER_OFFSET = 16;
const SCP_MARKER = "SCPECG";

export function detectEcgFile(head: Uint8Array, name: string): EcgFileFormat | undefined {
  const marker = new TextDecoder("latin1").decode(head.subarray(SCP_MARKER_OFFSET, SCP_MARKER_OFFSET + 6));
  if (marker === SCP_MARKER || /\.scp$/i.test(name)) return "scp-ecg";
  return detectEcgXmlDialect(head);
}

/** Throws the decoder's coded error (ScpEcgError, EcgXmlError) when the file cannot be read. */
export function decodeEcgFile(bytes: Uint8Array, format: EcgFileFormat): EcgRecord {
  return format === "scp-ecg" ? decodeScpEcg(bytes) : decodeEcgXml(bytes);
}

/**
 * The head of a DICOM Part 10 file (PS3.10 7.1): 128-byte preamble, "DICM", and the File Meta
 * Information group (0002) in Explicit VR Little Endian. The received dataset follows it verbatim,
 * so what we store is byte for byte what the modality sent.
 */
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "./constants.ts";

export interface FileMetaInformation {
  /** (0002,0002) Media Storage SOP Class UID: the C-STORE's Affected SOP Class UID. */
  sopClassUid: string;
  /** (0002,0003) Media Storage SOP Instance UID: the C-STORE's Affected SOP Instance UID. */
  sopInstanceUid: string;
  /** (0002,0010) the transfer syntax the dataset is encoded in (the accepted one). */
  transferSyntaxUid: string;
  /** (0002,0016) Source Application Entity Title: the calling AE; omitted when empty or not an AE. */
  sourceAeTitle?: string;
}

const PREAMBLE_LENGTH = 128;
const MAGIC = "DICM";
/** Preamble, magic, and the (0002,0000) element itself (tag 4 + VR 2 + length 2 + UL value 4). */
const FIXED_HEAD_LENGTH = PREAMBLE_LENGTH + MAGIC.length + 12;

/** Build preamble + "DICM" + the whole group 0002, ready to be followed by the dataset bytes. */
export function buildPart10Header(meta: FileMetaInformation): Uint8Array {
  const elements: Uint8Array[] = [
    // PS3.10 7.1: File Meta Information Version, OB, "00\01" for this version of the standard.
    element(0x0001, "OB", Uint8Array.of(0x00, 0x01)),
    element(0x0002, "UI", uiValue(meta.sopClassUid)),
    element(0x0003, "UI", uiValue(meta.sopInstanceUid)),
    element(0x0010, "UI", uiValue(meta.transferSyntaxUid)),
    element(0x0012, "UI", uiValue(IMPLEMENTATION_CLASS_UID)),
    element(0x0013, "SH", textValue(IMPLEMENTATION_VERSION_NAME)),
  ];
  const sourceAeTitle = meta.sourceAeTitle?.trim() ?? "";
  // PS3.5 6.2 (AE): 1–16 characters of the default repertoire, no backslash or control characters.
  if (/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(sourceAeTitle)) {
    elements.push(element(0x0016, "AE", textValue(sourceAeTitle)));
  }
  const groupLength = elements.reduce((sum, bytes) => sum + bytes.length, 0);
  const header = new Uint8Array(FIXED_HEAD_LENGTH + groupLength);
  header.set(new TextEncoder().encode(MAGIC), PREAMBLE_LENGTH);
  const lengthValue = new Uint8Array(4);
  new DataView(lengthValue.buffer).setUint32(0, groupLength, true);
  // PS3.10 7.1: (0002,0000) File Meta Information Group Length counts the bytes after its own element.
  header.set(element(0x0000, "UL", lengthValue), PREAMBLE_LENGTH + MAGIC.length);
  let offset = FIXED_HEAD_LENGTH;
  for (const bytes of elements) {
    header.set(bytes, offset);
    offset += bytes.length;
  }
  return header;
}

/**
 * Where the dataset starts in a Part 10 file: after the preamble, "DICM" and the group 0002 whose
 * length (0002,0000) states. Throws when the bytes do not start like a Part 10 file.
 */
export function datasetOffset(head: Uint8Array): number {
  if (head.length < FIXED_HEAD_LENGTH) throw new Error("not a DICOM Part 10 file: too short");
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = new TextDecoder("latin1").decode(head.subarray(PREAMBLE_LENGTH, PREAMBLE_LENGTH + 4));
  const at = PREAMBLE_LENGTH + 4;
  const isGroupLength =
    view.getUint16(at, true) === 0x0002 &&
    view.getUint16(at + 2, true) === 0x0000 &&
    head[at + 4] === 0x55 && // "U"
    head[at + 5] === 0x4c; // "L"
  if (magic !== MAGIC || !isGroupLength) {
    throw new Error("not a DICOM Part 10 file: no DICM prefix or (0002,0000) group length");
  }
  return FIXED_HEAD_LENGTH + view.getUint32(at + 8, true);
}

/** One explicit VR little endian element of group 0002 (PS3.5 7.1.2). */
function element(elementNumber: number, vr: "OB" | "UI" | "UL" | "SH" | "AE", value: Uint8Array): Uint8Array {
  // PS3.5 Table 7.1-1: OB has 2 reserved bytes and a 32-bit length; the others a 16-bit length.
  const longForm = vr === "OB";
  const headerLength = longForm ? 12 : 8;
  const bytes = new Uint8Array(headerLength + value.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0x0002, true);
  view.setUint16(2, elementNumber, true);
  bytes[4] = vr.charCodeAt(0);
  bytes[5] = vr.charCodeAt(1);
  if (longForm) view.setUint32(8, value.length, true);
  else view.setUint16(6, value.length, true);
  bytes.set(value, headerLength);
  return bytes;
}

/** PS3.5 6.2 (UI): padded to even length with a single trailing NUL. */
function uiValue(uid: string): Uint8Array {
  const clean = uid.replace(/[\0 ]+$/, "");
  const bytes = new Uint8Array(clean.length + (clean.length % 2));
  for (let index = 0; index < clean.length; index += 1) bytes[index] = clean.charCodeAt(index) & 0x7f;
  return bytes;
}

/** PS3.5 6.2 (SH, AE): padded to even length with a trailing space. */
function textValue(text: string): Uint8Array {
  const padded = text.length % 2 === 0 ? text : `${text} `;
  return new TextEncoder().encode(padded);
}

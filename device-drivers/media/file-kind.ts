/**
 * What a file on a medium is, from its first bytes: a DICOM Part 10 file (PS3.10 7.1: 128-byte
 * preamble, "DICM", file meta group), a DICOMDIR, a bare dataset without preamble and meta (some
 * older exports and PACS dumps write these), an ECG export (SCP-ECG, HL7 aECG, Philips, GE MUSE
 * XML: device-drivers/ecg/import), or something else (reports, viewers, autorun files).
 */
import { open } from "node:fs/promises";
import { fileSource } from "../dicom/byte-source.ts";
import { TRANSFER_SYNTAX } from "../dicom/constants.ts";
import { type DatasetEncoding, scanDataset } from "../dicom/dataset-scanner.ts";
import { datasetOffset } from "../dicom/part10.ts";
import { detectEcgFile, ECG_FILE_HEAD_BYTES, type EcgFileFormat } from "../ecg/import/index.ts";

export type FileKind =
  | { kind: "part10" }
  | { kind: "dicomdir" }
  | { kind: "raw-dataset"; transferSyntaxUid: string; encoding: DatasetEncoding }
  | { kind: "ecg"; format: EcgFileFormat }
  | { kind: "unsupported"; reason: string }
  /** Could not be read now (I/O error, permissions): worth another try later. */
  | { kind: "unreadable"; reason: string }
  | { kind: "other" };

/** PS3.4 Annex I: the Media Storage Directory SOP Class, the SOP class of a DICOMDIR. */
export const MEDIA_STORAGE_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10";

const HEAD_BYTES = 256;
const MEDIA_STORAGE_SOP_CLASS = 0x00020002;
const latin1 = new TextDecoder("latin1");
/** PS3.5 Table 6.2-1: every VR a dataset may carry, to tell explicit from implicit VR. */
const VRS = new Set(
  "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split(
    " ",
  ),
);
/** PS3.5 7.5: the Sequence Delimitation Item that closes encapsulated pixel data. */
const SEQUENCE_DELIMITATION = Uint8Array.of(0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0);

export async function probeFile(path: string): Promise<FileKind> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(Math.min(HEAD_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    if (latin1.decode(head.subarray(128, 132)) === "DICM") {
      return (await isDicomdir(handle, size, head)) ? { kind: "dicomdir" } : { kind: "part10" };
    }
    const encoding = bareDatasetEncoding(head);
    if (!encoding) return await ecgFileKind(handle, size, path);
    // A bare dataset says nothing of its transfer syntax. Uncompressed little endian can be told
    // from its element headers; encapsulated pixel data cannot be labelled (which JPEG?), so such
    // a file (it ends with the Sequence Delimitation Item) is not guessed at.
    const tail = new Uint8Array(8);
    if (size >= 8) await handle.read(tail, 0, 8, size - 8);
    if (tail.every((byte, index) => byte === SEQUENCE_DELIMITATION[index])) {
      return { kind: "unsupported", reason: "dataset without file meta and with compressed pixel data" };
    }
    return {
      kind: "raw-dataset",
      encoding,
      transferSyntaxUid: encoding.explicitVr
        ? TRANSFER_SYNTAX.explicitVrLittleEndian
        : TRANSFER_SYNTAX.implicitVrLittleEndian,
    };
  } finally {
    await handle.close();
  }
}

/** An ECG export needs a longer look (an aECG's root element may follow long comments). */
async function ecgFileKind(
  handle: Awaited<ReturnType<typeof open>>,
  size: number,
  path: string,
): Promise<FileKind> {
  const head = new Uint8Array(Math.min(ECG_FILE_HEAD_BYTES, size));
  await handle.read(head, 0, head.length, 0);
  const format = detectEcgFile(head, path);
  return format ? { kind: "ecg", format } : { kind: "other" };
}

/**
 * A dataset without preamble starts with a group 0008 element (Specific Character Set, Image
 * Type, SOP Class UID …) of a low element number; its bytes 4–5 are a VR in explicit VR.
 */
function bareDatasetEncoding(head: Uint8Array): DatasetEncoding | undefined {
  if (head.length < 8) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getUint16(0, true) !== 0x0008 || view.getUint16(2, true) > 0x00ff) return undefined;
  const vr = String.fromCharCode(head[4] ?? 0, head[5] ?? 0);
  return { explicitVr: VRS.has(vr), littleEndian: true };
}

/** PS3.10 7.1: (0002,0002) Media Storage SOP Class UID names a DICOMDIR whatever its file name. */
async function isDicomdir(
  handle: Awaited<ReturnType<typeof open>>,
  size: number,
  head: Uint8Array,
): Promise<boolean> {
  try {
    const meta = await scanDataset(fileSource(handle, size), {
      start: 132,
      end: datasetOffset(head),
      encoding: { explicitVr: true, littleEndian: true },
      wanted: new Set([MEDIA_STORAGE_SOP_CLASS]),
    });
    const bytes = meta.get(MEDIA_STORAGE_SOP_CLASS)?.bytes;
    return !!bytes && latin1.decode(bytes).replace(/[\0 ]+$/, "") === MEDIA_STORAGE_DIRECTORY_SOP_CLASS;
  } catch {
    return false; // a broken meta group is the Part 10 reader's to report
  }
}

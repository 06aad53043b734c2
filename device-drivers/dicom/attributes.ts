/**
 * InstanceAttributes from a Part 10 file on disk: scans the whole dataset (so a truncated one is
 * refused) but reads only the few top-level values the gateway indexes; pixel data stays on disk.
 */
import { open } from "node:fs/promises";
import { promisify } from "node:util";
import { inflateRaw } from "node:zlib";
import { decodeText, parseSpecificCharacterSet } from "../../common/dicom-text.ts";
import type { InstanceAttributes } from "../types.ts";
import { type ByteSource, fileSource, headThenFileSource, memorySource } from "./byte-source.ts";
import { TRANSFER_SYNTAX } from "./constants.ts";
import {
  type DatasetEncoding,
  MalformedDatasetError,
  type RawElement,
  scanDataset,
} from "./dataset-scanner.ts";
import { datasetOffset } from "./part10.ts";

const inflate = promisify(inflateRaw);
const latin1 = new TextDecoder("latin1");

/** The dataset attributes we index, by tag (group << 16 | element), with the text VRs we decode. */
const DATASET_TAGS = {
  specificCharacterSet: 0x00080005,
  sopClassUid: 0x00080016,
  sopInstanceUid: 0x00080018,
  studyDate: 0x00080020,
  studyTime: 0x00080030,
  accessionNumber: 0x00080050,
  modality: 0x00080060,
  studyDescription: 0x00081030,
  patientName: 0x00100010,
  patientId: 0x00100020,
  patientBirthDate: 0x00100030,
  patientSex: 0x00100040,
  patientAge: 0x00101010,
  studyInstanceUid: 0x0020000d,
  seriesInstanceUid: 0x0020000e,
} as const;

/** SH, LO, PN: the VRs whose values follow the Specific Character Set (PS3.5 6.1.2.3). */
const CHARACTER_SET_DEPENDENT = new Set<string>([
  "studyDescription",
  "accessionNumber",
  "patientName",
  "patientId",
]);

const META_TRANSFER_SYNTAX = 0x00020010;
const FILE_HEAD_BYTES = 144;

/**
 * What a writer of the file already knows: its first bytes (still in memory) and its size, so
 * reading the attributes of a just-received instance costs no system call in the common case.
 */
export interface KnownFileStart {
  head: Uint8Array;
  size: number;
}

/**
 * Read the attributes of the Part 10 file at `path`. Throws MalformedDatasetError when the file meta
 * or the dataset cannot be understood (truncated, mis-framed, deflate stream broken); other errors
 * (I/O) pass through unchanged. With `known`, the file is opened only if the scan needs bytes past
 * the head (a long header before the pixel data, or a deflated dataset).
 */
export async function readInstanceAttributes(
  path: string,
  known?: KnownFileStart,
): Promise<InstanceAttributes> {
  const file = known
    ? headThenFileSource(known.head, known.size, () => open(path, "r"))
    : await openWhole(path);
  try {
    const start = datasetOffsetOf(await file.read(0, Math.min(FILE_HEAD_BYTES, file.size)));
    const meta = await scanDataset(file, {
      start: 132,
      end: start,
      encoding: { explicitVr: true, littleEndian: true },
      wanted: new Set([META_TRANSFER_SYNTAX]),
    });
    const transferSyntaxUid = asciiValue(meta.get(META_TRANSFER_SYNTAX));
    if (!transferSyntaxUid) throw new MalformedDatasetError("file meta has no Transfer Syntax UID");
    const { source, position } = await datasetSource(file, start, transferSyntaxUid);
    const found = await scanDataset(source, {
      start: position,
      encoding: encodingOf(transferSyntaxUid),
      wanted: new Set(Object.values(DATASET_TAGS)),
    });
    return toAttributes(found, transferSyntaxUid);
  } finally {
    await file.close();
  }
}

/** The file at `path` as a source with nothing in memory yet (its size from the open handle). */
async function openWhole(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    return Object.assign(fileSource(handle, size), { close: () => handle.close() });
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** PS3.5 A.2–A.4: the element encoding of a dataset in the given transfer syntax. */
export function encodingOf(transferSyntaxUid: string): DatasetEncoding {
  if (transferSyntaxUid === TRANSFER_SYNTAX.implicitVrLittleEndian)
    return { explicitVr: false, littleEndian: true };
  if (transferSyntaxUid === TRANSFER_SYNTAX.explicitVrBigEndian)
    return { explicitVr: true, littleEndian: false };
  // Explicit VR LE, deflated (after inflation), and every encapsulated syntax (PS3.5 A.4).
  return { explicitVr: true, littleEndian: true };
}

function datasetOffsetOf(head: Uint8Array): number {
  try {
    return datasetOffset(head);
  } catch (error) {
    throw new MalformedDatasetError((error as Error).message);
  }
}

/** PS3.5 A.5: a deflated dataset is one raw deflate stream; inflate it to scan it (rare, small). */
async function datasetSource(
  file: ByteSource,
  start: number,
  transferSyntaxUid: string,
): Promise<{ source: ByteSource; position: number }> {
  if (transferSyntaxUid !== TRANSFER_SYNTAX.deflatedExplicitVrLittleEndian)
    return { source: file, position: start };
  try {
    const inflated = await inflate(await file.read(start, file.size - start));
    return { source: memorySource(new Uint8Array(inflated)), position: 0 };
  } catch (error) {
    throw new MalformedDatasetError(`deflated dataset does not inflate: ${(error as Error).message}`);
  }
}

function toAttributes(found: Map<number, RawElement>, transferSyntaxUid: string): InstanceAttributes {
  const characterSet = parseSpecificCharacterSet(found.get(DATASET_TAGS.specificCharacterSet)?.bytes);
  const text = (name: Exclude<keyof typeof DATASET_TAGS, "specificCharacterSet">): string => {
    const element = found.get(DATASET_TAGS[name]);
    if (!element) return "";
    if (!CHARACTER_SET_DEPENDENT.has(name)) return asciiValue(element);
    const decoded = decodeText(element.bytes, characterSet, { personName: name === "patientName" });
    return name === "patientName" ? personName(decoded) : trimValue(decoded);
  };
  return {
    studyInstanceUid: text("studyInstanceUid"),
    seriesInstanceUid: text("seriesInstanceUid"),
    sopInstanceUid: text("sopInstanceUid"),
    sopClassUid: text("sopClassUid"),
    transferSyntaxUid,
    modality: text("modality"),
    patientId: text("patientId"),
    patientName: text("patientName"),
    patientSex: text("patientSex"),
    patientBirthDate: text("patientBirthDate"),
    patientAge: text("patientAge"),
    studyDate: text("studyDate"),
    studyTime: text("studyTime"),
    studyDescription: text("studyDescription"),
    accessionNumber: text("accessionNumber"),
  };
}

/** UI, CS, DA, TM, AS: default repertoire only (PS3.5 6.2); padding is NUL (UI) or space. */
function asciiValue(element: RawElement | undefined): string {
  if (!element) return "";
  return trimValue(latin1.decode(element.bytes));
}

function trimValue(value: string): string {
  return value.replace(/^[ \0]+|[ \0]+$/g, "");
}

/**
 * PS3.5 6.2.1: a PN value is up to three component groups (alphabetic=ideographic=phonetic) of five
 * `^`-separated components. We keep every group ("Zhang^San=张^三" keeps the characters staff know)
 * and drop the empty trailing components and groups, so "Doe^John^^^" reads "Doe^John".
 */
function personName(value: string): string {
  const groups = trimValue(value)
    .split("=")
    .map((group) => group.replace(/\^+$/, "").replace(/[ \0]+$/, ""));
  while (groups.length > 1 && groups[groups.length - 1] === "") groups.pop();
  return groups.join("=");
}

/**
 * Import one file: find out what it is, skip it if its bytes were imported before, otherwise copy
 * it onto the sink's filesystem (a bare dataset gets a Part 10 header first), read its attributes
 * the way the C-STORE path does, and hand it to the sink. Never throws; the medium is only read.
 */
import { open, readFile, rm } from "node:fs/promises";
import type { Logger } from "../../common/logger.ts";
import { readInstanceAttributes } from "../dicom/attributes.ts";
import { fileSource } from "../dicom/byte-source.ts";
import { MalformedDatasetError, scanDataset } from "../dicom/dataset-scanner.ts";
import { buildPart10Header } from "../dicom/part10.ts";
import {
  decodeEcgFile,
  type EcgFileFormat,
  type EcgStore,
  MAX_ECG_FILE_BYTES,
  sha256Hex,
} from "../ecg/import/index.ts";
import type { InstanceAttributes, InstanceSink } from "../types.ts";
import { copyFileDurable, hashFile } from "./copy-file.ts";
import { type FileKind, MEDIA_STORAGE_DIRECTORY_SOP_CLASS } from "./file-kind.ts";
import type { ImportLedger } from "./import-ledger.ts";

export type FileOutcome =
  | { outcome: "imported" }
  | { outcome: "duplicate" }
  | { outcome: "skipped" }
  /** `final`: this version of the file will fail again (malformed, refused for good); else retry later. */
  | { outcome: "failed"; reason: string; final: boolean };

export interface ImportFileDeps {
  sink: InstanceSink;
  ledger: ImportLedger;
  log: Logger;
  /** Turns ECG exports into DICOM ECGs; absent = ECG files are passed over. */
  ecg?: EcgStore;
}

const SOP_CLASS_UID = 0x00080016;
const SOP_INSTANCE_UID = 0x00080018;
const REQUIRED = ["sopInstanceUid", "sopClassUid", "studyInstanceUid", "seriesInstanceUid"] as const;

export async function importFile(path: string, kind: FileKind, deps: ImportFileDeps): Promise<FileOutcome> {
  if (kind.kind === "other" || kind.kind === "dicomdir") return { outcome: "skipped" };
  if (kind.kind === "unsupported") return { outcome: "failed", reason: kind.reason, final: true };
  if (kind.kind === "unreadable") return { outcome: "failed", reason: kind.reason, final: false };
  if (kind.kind === "ecg")
    return deps.ecg ? importEcgFile(path, kind.format, deps, deps.ecg) : { outcome: "skipped" };
  let staging: string | undefined;
  try {
    const digest = await hashFile(path);
    if (deps.ledger.hasContent(digest.sha256, digest.size)) return { outcome: "duplicate" };

    let prefix: Uint8Array | undefined;
    if (kind.kind === "raw-dataset") {
      const header = await part10HeaderFor(path, kind);
      if ("reason" in header) return { outcome: "failed", reason: header.reason, final: true };
      prefix = header.bytes;
    }
    staging = await deps.sink.stagingPath();
    const copied = await copyFileDurable(path, staging, prefix);
    if (copied.sha256 !== digest.sha256) {
      return { outcome: "failed", reason: "file changed while it was read; will retry", final: false };
    }
    const checked = await attributesOf(staging);
    if ("reason" in checked) return { outcome: "failed", reason: checked.reason, final: true };
    if (checked.attributes.sopClassUid === MEDIA_STORAGE_DIRECTORY_SOP_CLASS) return { outcome: "skipped" };

    const result = await deps.sink.store({
      attributes: checked.attributes,
      source: { kind: "file", path },
      part10: { kind: "file", path: staging },
    });
    if (result.status === "refused") {
      return {
        outcome: "failed",
        reason: `refused by the gateway: ${result.reason}`,
        final: !result.retryable,
      };
    }
    staging = undefined; // the sink owns the file now
    await deps.ledger.recordContent(digest.sha256, digest.size, checked.attributes.sopInstanceUid);
    return { outcome: result.status === "stored" ? "imported" : "duplicate" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The error's message names the file, and file names on exports are often patient names: log the code.
    deps.log.warn({ event: "import-file-error", code: code ?? (error as Error).name }, "import failed");
    return {
      outcome: "failed",
      reason: `cannot read or store (${code ?? "error"}); will retry`,
      final: false,
    };
  } finally {
    if (staging) await rm(staging, { force: true }).catch(() => undefined);
  }
}

/**
 * An ECG export: decoded, made a DICOM ECG (linked to its registration when the box can tell) and
 * stored like any instance. Its UIDs follow from the file's bytes, so the same file read again
 * (another stick, a lost ledger) replaces the instance rather than adding a study.
 */
async function importEcgFile(
  path: string,
  format: EcgFileFormat,
  deps: ImportFileDeps,
  ecg: EcgStore,
): Promise<FileOutcome> {
  try {
    const digest = await hashFile(path);
    if (deps.ledger.hasContent(digest.sha256, digest.size)) return { outcome: "duplicate" };
    if (digest.size > MAX_ECG_FILE_BYTES) {
      return { outcome: "failed", reason: `ECG file larger than ${MAX_ECG_FILE_BYTES} bytes`, final: true };
    }
    const bytes = new Uint8Array(await readFile(path));
    const sha256 = sha256Hex(bytes);
    if (sha256 !== digest.sha256) {
      return { outcome: "failed", reason: "file changed while it was read; will retry", final: false };
    }
    let record: ReturnType<typeof decodeEcgFile>;
    try {
      record = decodeEcgFile(bytes, format);
    } catch (error) {
      // Decoders' messages name what is wrong, never patient data.
      const code = (error as { code?: string }).code ?? "ECG_FILE_INVALID";
      return {
        outcome: "failed",
        reason: `not a readable ${format} file (${code}: ${(error as Error).message})`,
        final: true,
      };
    }
    const result = await ecg.store(record, { kind: "file", path }, { sourceSha256: sha256 });
    if (result.status === "refused") {
      return {
        outcome: "failed",
        reason: `refused by the gateway: ${result.reason}`,
        final: !result.retryable,
      };
    }
    await deps.ledger.recordContent(digest.sha256, digest.size, result.sopInstanceUid ?? "");
    return { outcome: result.status === "stored" ? "imported" : "duplicate" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    deps.log.warn({ event: "import-file-error", code: code ?? (error as Error).name }, "ECG import failed");
    return {
      outcome: "failed",
      reason: `cannot read or store (${code ?? "error"}); will retry`,
      final: false,
    };
  }
}

/** Attributes as the C-STORE path reads them, and the same four UIDs required (PS3.4 B.2.3). */
async function attributesOf(path: string): Promise<{ attributes: InstanceAttributes } | { reason: string }> {
  let attributes: InstanceAttributes;
  try {
    attributes = await readInstanceAttributes(path);
  } catch (error) {
    if (error instanceof MalformedDatasetError) return { reason: `malformed DICOM (${error.message})` };
    throw error;
  }
  if (attributes.sopClassUid === MEDIA_STORAGE_DIRECTORY_SOP_CLASS) return { attributes };
  const missing = REQUIRED.find((key) => attributes[key] === "");
  return missing ? { reason: `malformed DICOM (no ${missing})` } : { attributes };
}

/**
 * PS3.10 7.1: the file meta a bare dataset lacks. Media Storage SOP Class and Instance come from the
 * dataset's own (0008,0016) and (0008,0018); the transfer syntax from its element headers.
 */
async function bareDatasetUids(
  path: string,
  kind: Extract<FileKind, { kind: "raw-dataset" }>,
): Promise<{ sopClassUid: string; sopInstanceUid: string } | { reason: string }> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const found = await scanDataset(fileSource(handle, size), {
      start: 0,
      encoding: kind.encoding,
      wanted: new Set([SOP_CLASS_UID, SOP_INSTANCE_UID]),
    });
    const text = (tag: number) =>
      new TextDecoder("latin1").decode(found.get(tag)?.bytes ?? new Uint8Array()).replace(/[\0 ]+$/, "");
    const sopClassUid = text(SOP_CLASS_UID);
    const sopInstanceUid = text(SOP_INSTANCE_UID);
    if (!sopClassUid || !sopInstanceUid) return { reason: "dataset without file meta and without SOP UIDs" };
    return { sopClassUid, sopInstanceUid };
  } catch (error) {
    if (error instanceof MalformedDatasetError) return { reason: `malformed DICOM (${error.message})` };
    throw error;
  } finally {
    await handle.close();
  }
}

async function part10HeaderFor(
  path: string,
  kind: Extract<FileKind, { kind: "raw-dataset" }>,
): Promise<{ bytes: Uint8Array } | { reason: string }> {
  const uids = await bareDatasetUids(path, kind);
  if ("reason" in uids) return uids;
  return { bytes: buildPart10Header({ ...uids, transferSyntaxUid: kind.transferSyntaxUid }) };
}

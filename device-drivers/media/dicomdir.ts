/**
 * A File-set Reader's view of a DICOMDIR (PS3.10 8.2, PS3.3 Annex F): the files a medium's directory
 * names, taken from the Referenced File ID (0004,1500) of each directory record in the Directory
 * Record Sequence (0004,1220). We need only the files, not the patient/study/series hierarchy, so
 * records are read in sequence order rather than by following the offsets (PS3.3 F.3.2.1).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

/** The slice of dcmjs used here (it ships no type declarations). */
interface DcmjsElement {
  vr: string;
  Value?: unknown[];
}
interface Dcmjs {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Record<string, DcmjsElement> } };
  };
  log: { setLevel(level: string): void };
}

const require = createRequire(import.meta.url);
const dcmjs = require("dcmjs") as Dcmjs;

const DIRECTORY_RECORD_SEQUENCE = "00041220";
const RECORD_IN_USE_FLAG = "00041410";
const REFERENCED_FILE_ID = "00041500";
/** A DICOMDIR of a full CD holds a few MB; anything far larger is not one we should parse in memory. */
const MAX_DICOMDIR_BYTES = 64 * 1024 * 1024;

/**
 * The Referenced File IDs of the in-use records, each as its components (PS3.10 8.5: up to 8
 * components, joined by backslash, which dcmjs already splits as value multiplicity). Throws when
 * the file is not a readable DICOMDIR; the caller then scans the directory instead.
 */
export async function readReferencedFileIds(path: string): Promise<string[][]> {
  const { size } = await stat(path);
  if (size > MAX_DICOMDIR_BYTES) throw new Error(`DICOMDIR larger than ${MAX_DICOMDIR_BYTES} bytes`);
  const bytes = await readFile(path);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  // dcmjs logs its parse warnings to the console; the importer reports problems itself.
  dcmjs.log.setLevel("silent");
  const records = dcmjs.data.DicomMessage.readFile(buffer).dict[DIRECTORY_RECORD_SEQUENCE]?.Value;
  if (!Array.isArray(records)) throw new Error("no Directory Record Sequence (0004,1220)");
  const seen = new Set<string>();
  const ids: string[][] = [];
  for (const record of records as Array<Record<string, DcmjsElement>>) {
    // PS3.3 F.3.2.2: Record In-use Flag 0000H marks an inactive record (retired, still written).
    if (record[RECORD_IN_USE_FLAG]?.Value?.[0] === 0) continue;
    const components = (record[REFERENCED_FILE_ID]?.Value ?? []).map((part) => String(part).trim());
    if (components.length === 0 || components.some((part) => !isSafeComponent(part))) continue;
    const key = components.join("\\");
    if (seen.has(key)) continue;
    seen.add(key);
    ids.push(components);
  }
  return ids;
}

/**
 * The path of a File ID below `root`. PS3.10 8.5 File IDs are upper case, but a FAT stick mounted
 * by Linux may show them in lower or mixed case, so a component not found as written is matched
 * case-insensitively. Undefined when the file is not there.
 */
export async function resolveFileId(
  root: string,
  components: readonly string[],
): Promise<string | undefined> {
  let path = root;
  for (const component of components) {
    const exact = join(path, component);
    if (await exists(exact)) {
      path = exact;
      continue;
    }
    let names: string[];
    try {
      names = await readdir(path);
    } catch {
      return undefined;
    }
    const match = names.find((name) => name.toUpperCase() === component.toUpperCase());
    if (!match) return undefined;
    path = join(path, match);
  }
  return path;
}

/** A component never climbs out of the medium: no empty, "." or ".." parts, no path separators. */
function isSafeComponent(part: string): boolean {
  return part !== "" && part !== "." && part !== ".." && !part.includes("/") && !part.includes("\0");
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

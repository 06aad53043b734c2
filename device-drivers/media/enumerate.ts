/**
 * The files of a medium or folder worth looking at. A directory holding a DICOMDIR is read as a
 * DICOM File-set (PS3.10 8.2): the files its records reference, and nothing below it is walked.
 * Without a DICOMDIR, or when it cannot be read, the directory is walked recursively. Symbolic links
 * are not followed (they could lead off the medium) and system folders are passed over.
 */
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { readReferencedFileIds, resolveFileId } from "./dicomdir.ts";

export interface FoundFile {
  path: string;
  /** Path relative to the scanned root, with "/" separators: what the API shows. */
  relative: string;
  size: number;
  mtimeMs: number;
}

export interface Enumeration {
  files: FoundFile[];
  /** Files a DICOMDIR references that are not on the medium, or directories that could not be read. */
  problems: Array<{ file: string; reason: string }>;
  /** DICOMDIRs read (relative paths), and those that could not be and were replaced by a walk. */
  fileSets: string[];
  unreadableFileSets: string[];
}

const MAX_DEPTH = 16;
/** Trash and indexing folders desktops and Windows leave on sticks: deleted or not ours to read. */
const SKIPPED_DIRECTORIES = new Set(["system volume information", "$recycle.bin", "lost+found"]);

export async function enumerateFiles(root: string): Promise<Enumeration> {
  const result: Enumeration = { files: [], problems: [], fileSets: [], unreadableFileSets: [] };
  await walk(root, root, 0, result);
  return result;
}

async function walk(root: string, dir: string, depth: number, result: Enumeration): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const dicomdir = entries.find((entry) => entry.isFile() && entry.name.toUpperCase() === "DICOMDIR");
  if (dicomdir && (await readFileSet(root, dir, join(dir, dicomdir.name), result))) return;
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith(".") || SKIPPED_DIRECTORIES.has(entry.name.toLowerCase())) continue;
      if (depth >= MAX_DEPTH) continue;
      try {
        await walk(root, path, depth + 1, result);
      } catch (error) {
        result.problems.push({ file: rel(root, path), reason: `cannot read folder (${codeOf(error)})` });
      }
    } else if (entry.isFile() && entry !== dicomdir && !entry.name.startsWith(".")) {
      await add(root, path, result);
    }
  }
}

/** True when the DICOMDIR was read (even if it named no file); false to walk the directory instead. */
async function readFileSet(
  root: string,
  dir: string,
  dicomdir: string,
  result: Enumeration,
): Promise<boolean> {
  let ids: string[][];
  try {
    ids = await readReferencedFileIds(dicomdir);
  } catch {
    result.unreadableFileSets.push(rel(root, dicomdir));
    return false;
  }
  result.fileSets.push(rel(root, dicomdir));
  for (const components of ids) {
    const path = await resolveFileId(dir, components);
    if (path) await add(root, path, result);
    else {
      result.problems.push({
        file: rel(root, join(dir, ...components)),
        reason: "listed in DICOMDIR but not on the medium",
      });
    }
  }
  return true;
}

async function add(root: string, path: string, result: Enumeration): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return;
    result.files.push({ path, relative: rel(root, path), size: info.size, mtimeMs: info.mtimeMs });
  } catch (error) {
    result.problems.push({ file: rel(root, path), reason: `cannot read file (${codeOf(error)})` });
  }
}

function rel(root: string, path: string): string {
  return relative(root, path);
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "error";
}

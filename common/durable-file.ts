/**
 * Durable file writes: a write is reported done only once it would survive a power cut.
 *
 * The recipe is the classic one (write a temporary file in the same directory, fsync it, rename it
 * over the target, fsync the directory so the rename itself is on disk). Both processes use it: the
 * gateway for its spool and index, the reading centre for its store.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** fsync a directory so that entries created, renamed or removed in it are durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A temporary path beside `target`, on the same filesystem, so a rename onto `target` is atomic. */
export function temporaryPathBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Atomically replace `target` with `data`; resolves after the data and the directory entry are
 * fsynced. Creates the parent directory when missing. A crash at any point leaves either the old
 * file or the new one, never a torn one (a stray `.tmp` file may remain and is safe to delete).
 */
export async function writeFileDurable(target: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const temporary = temporaryPathBeside(target);
  const handle = await open(temporary, "wx", 0o640);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await fsyncDirectory(dir);
}

/**
 * Move an already-fsynced file into place durably: rename, then fsync the destination directory
 * (and the source directory when it differs, so the old entry's removal is durable too).
 */
export async function renameDurable(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await rename(from, to);
  await fsyncDirectory(dirname(to));
  if (dirname(from) !== dirname(to)) await fsyncDirectory(dirname(from));
}

/** fsync a file's content by path (used after streaming it to disk). */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * What has been imported, remembered across restarts so a stick inserted again or a folder rescanned
 * after a reboot imports nothing twice. Two kinds of entry, one JSON object per line, appended and
 * fsynced (an append costs one small write on an SD card, where rewriting a growing file would not):
 *
 * - content: the SHA-256 and size of a file's bytes that reached the sink (stored or duplicate), with
 *   its SOP Instance UID. The same bytes from any medium or folder are not imported again.
 * - settled: a watched-folder file (path, size, mtime) whose outcome is final, so each scan of the
 *   folder skips it without reading it. Not used for sticks: a different stick mounted at the same
 *   path may hold a different file with the same name, size and time (FAT keeps 2 s times).
 *
 * A line torn by a power cut is ignored; at worst that file is read again and the sink answers
 * `duplicate`.
 */
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory } from "../../common/durable-file.ts";

type Entry =
  | { k: "content"; sha256: string; size: number; sopInstanceUid: string; at: string }
  | { k: "settled"; path: string; size: number; mtimeMs: number };

export class ImportLedger {
  readonly #file: string;
  readonly #dir: string;
  readonly #contents = new Set<string>();
  readonly #settled = new Set<string>();
  #writes: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.#dir = dir;
    this.#file = join(dir, "imported.jsonl");
  }

  async open(): Promise<void> {
    const created = await mkdir(this.#dir, { recursive: true });
    if (created) await fsyncDirectory(dirname(created));
    let text = "";
    try {
      text = await readFile(this.#file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      // Create it now and make its directory entry durable, so later appends need only fsync the file.
      await (await open(this.#file, "a", 0o640)).close();
      await fsyncDirectory(this.#dir);
    }
    for (const line of text.split("\n")) {
      if (!line) continue;
      let entry: Entry;
      try {
        entry = JSON.parse(line) as Entry;
      } catch {
        continue;
      }
      if (entry.k === "content") this.#contents.add(contentKey(entry.sha256, entry.size));
      else if (entry.k === "settled") this.#settled.add(settledKey(entry.path, entry.size, entry.mtimeMs));
    }
  }

  hasContent(sha256: string, size: number): boolean {
    return this.#contents.has(contentKey(sha256, size));
  }

  isSettled(path: string, size: number, mtimeMs: number): boolean {
    return this.#settled.has(settledKey(path, size, mtimeMs));
  }

  async recordContent(sha256: string, size: number, sopInstanceUid: string): Promise<void> {
    if (this.hasContent(sha256, size)) return;
    this.#contents.add(contentKey(sha256, size));
    await this.#append({ k: "content", sha256, size, sopInstanceUid, at: new Date().toISOString() });
  }

  async recordSettled(path: string, size: number, mtimeMs: number): Promise<void> {
    if (this.isSettled(path, size, mtimeMs)) return;
    this.#settled.add(settledKey(path, size, mtimeMs));
    await this.#append({ k: "settled", path, size, mtimeMs });
  }

  /** Appends one at a time, each fsynced before the next starts. */
  #append(entry: Entry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const next = this.#writes
      .catch(() => undefined)
      .then(async () => {
        const handle = await open(this.#file, "a", 0o640);
        try {
          await handle.write(line);
          await handle.datasync();
        } finally {
          await handle.close();
        }
      });
    this.#writes = next;
    return next;
  }
}

function contentKey(sha256: string, size: number): string {
  return `${sha256}:${size}`;
}

function settledKey(path: string, size: number, mtimeMs: number): string {
  return `${path}\0${size}\0${mtimeMs}`;
}

/**
 * A lowdb adapter that makes every write durable before it resolves.
 *
 * lowdb's own `JSONFile` (via steno) renames without fsync and coalesces writes, so a write may be
 * reported done while it is still only in the page cache. Here every `write()` resolves only once a
 * snapshot that contains its data is fsynced and renamed into place. Writes that queue up behind an
 * in-flight one are merged into a single later write (the whole document is rewritten each time, so
 * the later snapshot contains the earlier data); no caller is told "durable" early.
 */
import { readFile } from "node:fs/promises";
import { writeFileDurable } from "./durable-file.ts";

/** The adapter shape lowdb's `Low` expects (declared here so this leaf imports nothing). */
export interface JsonAdapter<T> {
  read(): Promise<T | null>;
  write(data: T): Promise<void>;
}

export class DurableJsonFile<T> implements JsonAdapter<T> {
  readonly #path: string;
  #inFlight: Promise<void> | undefined;
  #pending: { data: T; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  write(data: T): Promise<void> {
    // Serialise now: the caller may mutate `data` right after calling write().
    const snapshot = JSON.parse(JSON.stringify(data)) as T;
    return new Promise<void>((resolve, reject) => {
      if (this.#pending) {
        this.#pending.data = snapshot;
        this.#pending.waiters.push({ resolve, reject });
      } else {
        this.#pending = { data: snapshot, waiters: [{ resolve, reject }] };
      }
      if (!this.#inFlight) this.#inFlight = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending) {
      const batch = this.#pending;
      this.#pending = undefined;
      try {
        await writeFileDurable(this.#path, `${JSON.stringify(batch.data, null, 1)}\n`);
        for (const waiter of batch.waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of batch.waiters) waiter.reject(error);
      }
    }
    this.#inFlight = undefined;
  }
}

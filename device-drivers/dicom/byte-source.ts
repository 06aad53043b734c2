/**
 * Random access to bytes, from a file or from memory, so a dataset can be scanned without loading
 * its pixel data: a scan reads element headers and skips values by position.
 */
import type { FileHandle } from "node:fs/promises";

export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `position`; throws a TruncatedError past the end. */
  read(position: number, length: number): Promise<Uint8Array>;
}

export class TruncatedError extends Error {
  override name = "TruncatedError";
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(position, length) {
      if (position + length > bytes.length) {
        return Promise.reject(
          new TruncatedError(`needs ${length} bytes at ${position}, has ${bytes.length}`),
        );
      }
      return Promise.resolve(bytes.subarray(position, position + length));
    },
  };
}

/**
 * A file read through one window of `windowBytes` (default 64 KiB): headers that sit close together
 * cost one read system call, skipped values cost none.
 */
export function fileSource(handle: FileHandle, size: number, windowBytes = 64 * 1024): ByteSource {
  let windowStart = 0;
  let window = new Uint8Array(0);
  return {
    size,
    async read(position, length) {
      if (position + length > size) {
        throw new TruncatedError(`needs ${length} bytes at ${position}, file has ${size}`);
      }
      if (position < windowStart || position + length > windowStart + window.length) {
        const want = Math.min(Math.max(length, windowBytes), size - position);
        const buffer = new Uint8Array(want);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        if (bytesRead < length) throw new TruncatedError(`short read at ${position}`);
        windowStart = position;
        window = buffer.subarray(0, bytesRead);
      }
      return window.subarray(position - windowStart, position - windowStart + length);
    },
  };
}

/**
 * A file whose first bytes are already in memory (the staging writer kept them): reads inside
 * `head` cost no system call; anything past it opens the file on first need, through a window.
 * `close()` releases that file, if it was opened.
 */
export function headThenFileSource(
  head: Uint8Array,
  size: number,
  openFile: () => Promise<FileHandle>,
): ByteSource & { close(): Promise<void> } {
  let handle: Promise<FileHandle> | undefined;
  let file: ByteSource | undefined;
  return {
    size,
    async read(position, length) {
      if (position + length > size) {
        throw new TruncatedError(`needs ${length} bytes at ${position}, file has ${size}`);
      }
      if (position + length <= head.length) return head.subarray(position, position + length);
      handle ??= openFile();
      file ??= fileSource(await handle, size);
      return file.read(position, length);
    },
    async close() {
      if (handle) await (await handle).close();
    },
  };
}

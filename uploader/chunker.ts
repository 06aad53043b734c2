/**
 * Reads an instance's Part 10 file as protocol chunks: exactly `size` bytes, `chunkSize` at a time
 * (only the ranges the reading centre does not hold yet), hashing all of it as it goes. One fresh
 * buffer per chunk (mqtt.js keeps each until its PUBACK), nothing else held, so memory stays flat for
 * a 500 MB multi-frame.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open, stat } from "node:fs/promises";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
import { type ByteRange, chunkRanges, missingRanges } from "./protocol/index.ts";
import type { OutboundInstance } from "./types.ts";

export interface FileChunk {
  offset: number;
  data: Buffer;
}

/**
 * Check, before anything is sent, that every file exists and has its descriptor's size: a mismatch
 * means the spool and the index disagree, and sending would only earn an INCOMPLETE from the county.
 */
export async function checkFileSizes(instances: readonly OutboundInstance[]): Promise<void> {
  for (const instance of instances) {
    let size: number;
    try {
      size = (await stat(instance.path)).size;
    } catch (error) {
      throw uploadError(
        UPLOAD_ERRORS.fileUnreadable,
        `instance ${instance.sopInstanceUid}: cannot stat its file (${describeError(error).code})`,
      );
    }
    if (size !== instance.size) {
      throw uploadError(
        UPLOAD_ERRORS.sizeMismatch,
        `instance ${instance.sopInstanceUid}: file has ${size} bytes, descriptor says ${instance.size}`,
      );
    }
  }
}

/**
 * Yield the chunks of the file that are to be sent, in file order: the parts of `[0, size)` not in
 * `held` (what the reading centre already has), cut by `chunkRanges` at `chunkSize` (aligned to
 * multiples of it, so a resumed transfer's chunks line up with a full one's). Held bytes are read and
 * hashed too, never yielded: after the last chunk the whole file's SHA-256 is checked against the
 * descriptor and a mismatch throws, so a file that changed on the box is never committed (the caller
 * sends the commit only once every iteration has finished cleanly).
 */
export async function* readChunks(
  instance: OutboundInstance,
  chunkSize: number,
  held: Iterable<ByteRange> = [],
): AsyncGenerator<FileChunk> {
  const hash = createHash("sha256");
  let handle: FileHandle;
  try {
    handle = await open(instance.path, "r");
  } catch (error) {
    throw uploadError(
      UPLOAD_ERRORS.fileUnreadable,
      `instance ${instance.sopInstanceUid}: cannot open its file (${describeError(error).code})`,
    );
  }
  try {
    const { size } = instance;
    let position = 0;
    let scratch: Buffer | undefined;
    const hashOnly = async (end: number) => {
      scratch ??= Buffer.allocUnsafe(Math.min(HASH_BLOCK, size));
      while (position < end) {
        const length = Math.min(scratch.length, end - position);
        const data = scratch.subarray(0, length);
        await readExactly(handle, instance, data, position);
        hash.update(data);
        position += length;
      }
    };
    for (const [offset, length] of chunkRanges(missingRanges(size, held), chunkSize)) {
      if (offset > position) await hashOnly(offset);
      // One fresh buffer per chunk: mqtt.js keeps it until the PUBACK.
      const data = Buffer.allocUnsafe(length);
      await readExactly(handle, instance, data, offset);
      hash.update(data);
      yield { offset, data };
      position = offset + length;
    }
    if (position < size) await hashOnly(size);
    const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, size);
    if (bytesRead !== 0) {
      throw uploadError(
        UPLOAD_ERRORS.sizeMismatch,
        `instance ${instance.sopInstanceUid}: file grew beyond ${size} bytes while sending`,
      );
    }
    const digest = hash.digest("hex");
    if (digest !== instance.sha256) {
      throw uploadError(
        UPLOAD_ERRORS.hashMismatch,
        `instance ${instance.sopInstanceUid}: file SHA-256 does not match its descriptor`,
      );
    }
  } finally {
    await handle.close();
  }
}

/** Held bytes are hashed this many at a time (one buffer, reused). */
const HASH_BLOCK = 1024 * 1024;

async function readExactly(
  handle: FileHandle,
  instance: OutboundInstance,
  data: Buffer,
  offset: number,
): Promise<void> {
  let filled = 0;
  while (filled < data.length) {
    const { bytesRead } = await handle.read(data, filled, data.length - filled, offset + filled);
    if (bytesRead === 0) {
      throw uploadError(
        UPLOAD_ERRORS.sizeMismatch,
        `instance ${instance.sopInstanceUid}: file ended at ${offset + filled} of ${instance.size} bytes`,
      );
    }
    filled += bytesRead;
  }
}

/** The smallest chunk the box offers because of a bandwidth budget. */
export const MIN_BUDGET_CHUNK_BYTES = 16 * 1024;
/** A chunk should take at most this long on a budgeted uplink (what it holds a stat study back by). */
const CHUNK_SECONDS = 0.25;

/**
 * The chunk size the box offers for one attempt: `configured`, but on a budgeted uplink at most what
 * the budget sends in ~250 ms, rounded down to a power of two and not below 16 KiB (2 Mbit/s → 32
 * KiB: a stat study waits ≤ 0.25 s for the chunk on the wire). `bytesPerSecond` Infinity (or absent)
 * = unlimited.
 */
export function offeredChunkSize(configured: number, bytesPerSecond = Number.POSITIVE_INFINITY): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return configured;
  const budgeted = bytesPerSecond * CHUNK_SECONDS;
  const power = budgeted >= 1 ? 2 ** Math.floor(Math.log2(budgeted)) : 1;
  return Math.min(configured, Math.max(MIN_BUDGET_CHUNK_BYTES, power));
}

/**
 * Reads an instance's Part 10 file as protocol chunks: exactly `size` bytes, `chunkSize` at a time,
 * hashing as it goes. One fresh buffer per chunk (mqtt.js keeps each until its PUBACK), nothing else
 * held, so memory stays flat for a 500 MB multi-frame.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
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
 * Yield the file's chunks in order. After the last chunk, checks the SHA-256 against the descriptor
 * and throws on a mismatch, so a corrupt file is never committed (the caller sends the commit only
 * once the iteration has finished cleanly).
 */
export async function* readChunks(instance: OutboundInstance, chunkSize: number): AsyncGenerator<FileChunk> {
  const hash = createHash("sha256");
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(instance.path, "r");
  } catch (error) {
    throw uploadError(
      UPLOAD_ERRORS.fileUnreadable,
      `instance ${instance.sopInstanceUid}: cannot open its file (${describeError(error).code})`,
    );
  }
  try {
    let offset = 0;
    while (offset < instance.size) {
      const length = Math.min(chunkSize, instance.size - offset);
      const data = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(data, filled, length - filled, offset + filled);
        if (bytesRead === 0) {
          throw uploadError(
            UPLOAD_ERRORS.sizeMismatch,
            `instance ${instance.sopInstanceUid}: file ended at ${offset + filled} of ${instance.size} bytes`,
          );
        }
        filled += bytesRead;
      }
      hash.update(data);
      yield { offset, data };
      offset += length;
    }
    const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, instance.size);
    if (bytesRead !== 0) {
      throw uploadError(
        UPLOAD_ERRORS.sizeMismatch,
        `instance ${instance.sopInstanceUid}: file grew beyond ${instance.size} bytes while sending`,
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

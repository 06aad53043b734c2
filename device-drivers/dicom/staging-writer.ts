/**
 * The Writable dcmjs-dimse streams a C-STORE dataset into: a file at the sink's staging path that
 * starts with our Part 10 header, followed by the P-DATA-TF fragments exactly as they arrive.
 *
 * A disk error does not error the stream (dcmjs-dimse does not listen for stream errors, and the
 * association must go on): it is recorded in `failure`, further bytes are dropped, and the C-STORE
 * is answered Out of Resources once the dataset has been received.
 */
import type { FileHandle } from "node:fs/promises";
import { open, rm } from "node:fs/promises";
import { Writable } from "node:stream";

/** How much of the file's start the writer keeps in memory (the attribute scan's usual reach). */
const HEAD_BYTES = 64 * 1024;

export interface StagingWriterOptions {
  /** Where to write (the sink's `stagingPath()`); called once, when the stream is constructed. */
  stagingPath: () => Promise<string>;
  /** Preamble, "DICM" and file meta group, written before the first dataset byte. */
  header: Uint8Array;
  /** Bytes buffered in memory before `write()` asks for a drain (default 4 MiB). */
  highWaterMark?: number;
  /** Keep the file open after 'finish' for `takeHandle()` (else it is closed then). */
  keepOpen?: boolean;
}

export class StagingWriter extends Writable {
  /** The file being written; undefined until construction got a path. */
  path: string | undefined;
  /** Dataset bytes received (header excluded). */
  datasetBytes = 0;
  /**
   * The file's first bytes (header and the start of the dataset, up to HEAD_BYTES), kept so the
   * attributes can be read without reading the file back.
   */
  head: Uint8Array = new Uint8Array(0);
  /** The first error met while staging; the file is then incomplete and must be discarded. */
  failure: Error | undefined;
  /**
   * Called, instead of Node's write-after-end error (which destroys the stream before 'finish'),
   * when data is written after `end()`: a PDV after the dataset's last fragment (scp.ts). The data
   * is dropped.
   */
  onWriteAfterEnd: (() => void) | undefined;
  private handle: FileHandle | undefined;
  private readonly options: StagingWriterOptions;

  constructor(options: StagingWriterOptions) {
    super({ highWaterMark: options.highWaterMark ?? 4 * 1024 * 1024, decodeStrings: true });
    this.options = options;
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (this.writableEnded) {
      this.onWriteAfterEnd?.();
      return true;
    }
    return super.write(chunk, encoding as BufferEncoding, callback as (error?: Error | null) => void);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.openStaging().then(
      () => callback(),
      (error: unknown) => {
        this.failure = asError(error);
        callback();
      },
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map(({ chunk }) => chunk);
    for (const buffer of buffers) this.datasetBytes += buffer.length;
    if (this.head.length < HEAD_BYTES) this.keepHead(buffers);
    const handle = this.handle;
    if (!handle || this.failure) {
      callback();
      return;
    }
    writeAll(handle, buffers).then(
      () => callback(),
      (error: unknown) => {
        this.failure = asError(error);
        callback();
      },
    );
  }

  /**
   * Close the file: it is complete when 'finish' is emitted. Not fsynced here: the sink fsyncs what
   * it takes (one fsync per instance, not two; see InstanceSink in ../types.ts).
   */
  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    if (handle && this.options.keepOpen && !this.failure) {
      callback();
      return;
    }
    this.handle = undefined;
    if (!handle) {
      callback();
      return;
    }
    handle.close().then(
      () => callback(),
      () => callback(),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The auto-destroy after 'finish' leaves a kept file open for takeHandle(); discard() closes it.
    if (this.options.keepOpen && this.writableFinished && !error && !this.failure) {
      callback(error);
      return;
    }
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  /**
   * The complete file's handle, still open (with `keepOpen`), for the caller to own and close;
   * undefined when it was closed or never opened. Once only.
   */
  takeHandle(): FileHandle | undefined {
    if (!this.writableFinished) return undefined;
    const handle = this.handle;
    this.handle = undefined;
    return handle;
  }

  /** Give up on this instance: stop writing and remove the staging file. Never throws. */
  async discard(): Promise<void> {
    if (!this.destroyed && !this.writableFinished) {
      const closed = new Promise<void>((resolve) => this.once("close", () => resolve()));
      this.destroy();
      await closed;
    }
    const kept = this.takeHandle();
    if (kept) await kept.close().catch(() => undefined);
    if (this.path) await rm(this.path, { force: true }).catch(() => undefined);
  }

  /** Size of the file once complete: our header plus every dataset byte. */
  get size(): number {
    return this.options.header.length + this.datasetBytes;
  }

  private keepHead(buffers: Uint8Array[]): void {
    if (this.head.length === 0) this.head = this.options.header.slice(0, HEAD_BYTES);
    const room = HEAD_BYTES - this.head.length;
    if (room <= 0) return;
    const taken: Uint8Array[] = [this.head];
    let left = room;
    for (const buffer of buffers) {
      if (left <= 0) break;
      const part = buffer.subarray(0, left);
      taken.push(part);
      left -= part.length;
    }
    this.head = Buffer.concat(taken);
  }

  private async openStaging(): Promise<void> {
    this.path = await this.options.stagingPath();
    // "wx": the sink hands out fresh paths; never write over a file someone else owns.
    this.handle = await open(this.path, "wx", 0o640);
    await writeAll(this.handle, [this.options.header]);
  }
}

async function writeAll(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending);
    pending = skipBytes(pending, bytesWritten);
  }
}

/** The buffers that remain after a short writev wrote `count` bytes. */
function skipBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
    } else {
      rest.push(left > 0 ? buffer.subarray(left) : buffer);
      left = 0;
    }
  }
  return rest;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

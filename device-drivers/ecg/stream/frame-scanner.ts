/**
 * Finds verified frames in the bytes of a line, whatever pieces they arrive in: looks for the
 * sync, waits for a whole frame, checks its checksum. A frame that fails is not skipped whole:
 * the scan slides one byte and searches again, so a good frame that starts inside the bad one
 * (a frame that lost bytes on the line runs into the next) is still found.
 *
 * Bytes given up on are reported as `discarded` events, one per run, with the reason the run
 * began: no sync, or a candidate frame whose checksum failed.
 */
import type { LineEvent } from "../line-decoder.ts";
import { readFrameAt, type StreamFrame } from "./frame.ts";
import { frameLength, type StreamProtocolSettings } from "./settings.ts";

type DiscardEvent = Extract<LineEvent, { kind: "discarded" }>;

const NO_SYNC = { code: "ECG_STREAM_NO_SYNC", reason: "bytes outside any frame (no sync)" };
const BAD_CHECKSUM = { code: "ECG_STREAM_BAD_CHECKSUM", reason: "a frame failed its checksum" };
const INCOMPLETE = {
  code: "ECG_STREAM_INCOMPLETE_FRAME",
  reason: "the line closed in the middle of a frame",
};

export type ScanItem = { kind: "frame"; frame: StreamFrame } | DiscardEvent;

export class FrameScanner {
  readonly #settings: StreamProtocolSettings;
  readonly #frameLength: number;
  readonly #sync: Uint8Array;
  #held = new Uint8Array(0);
  #skipped = 0;
  #skipReason = NO_SYNC;

  constructor(settings: StreamProtocolSettings) {
    this.#settings = settings;
    this.#frameLength = frameLength(settings);
    this.#sync = Uint8Array.from(settings.sync);
  }

  /** Bytes of one frame. */
  get frameLength(): number {
    return this.#frameLength;
  }

  push(chunk: Uint8Array): ScanItem[] {
    const items: ScanItem[] = [];
    const bytes = this.#held.length === 0 ? chunk : concat(this.#held, chunk);
    let at = 0;
    for (;;) {
      const sync = this.#findSync(bytes, at);
      if (sync < 0) {
        this.#skip(bytes.length - at);
        at = bytes.length;
        break;
      }
      this.#skip(sync - at);
      at = sync;
      if (bytes.length - at < this.#frameLength) break;
      const frame = readFrameAt(this.#settings, bytes, at);
      if (!frame) {
        if (this.#skipReason !== BAD_CHECKSUM) {
          this.#flush(items);
          this.#skipReason = BAD_CHECKSUM;
        }
        this.#skip(1);
        at += 1;
        continue;
      }
      this.#flush(items);
      this.#skipReason = NO_SYNC;
      items.push({ kind: "frame", frame });
      at += this.#frameLength;
    }
    this.#held = bytes.slice(at);
    this.#flush(items);
    return items;
  }

  /** The line closed: reports any bytes still held (a frame cut off) and starts afresh. */
  end(): DiscardEvent[] {
    const items: ScanItem[] = [];
    this.#flush(items);
    if (this.#held.length > 0) {
      const beginsWithSync = this.#findSync(this.#held, 0) === 0 && this.#held.length >= this.#sync.length;
      const why = beginsWithSync ? INCOMPLETE : NO_SYNC;
      items.push({ kind: "discarded", byteCount: this.#held.length, ...why });
    }
    this.#held = new Uint8Array(0);
    this.#skipReason = NO_SYNC;
    return items as DiscardEvent[];
  }

  #skip(count: number): void {
    this.#skipped += count;
  }

  #flush(items: ScanItem[]): void {
    if (this.#skipped === 0) return;
    items.push({ kind: "discarded", byteCount: this.#skipped, ...this.#skipReason });
    this.#skipped = 0;
  }

  /**
   * Index of the first full sync at or after `from`, or of a sync prefix at the very end (its rest
   * may be in the next read); -1 when there is neither.
   */
  #findSync(bytes: Uint8Array, from: number): number {
    const sync = this.#sync;
    const first = sync[0] ?? 0;
    for (let at = bytes.indexOf(first, from); at >= 0; at = bytes.indexOf(first, at + 1)) {
      let matched = true;
      for (let k = 1; k < sync.length && at + k < bytes.length; k++) {
        if (bytes[at + k] !== sync[k]) {
          matched = false;
          break;
        }
      }
      if (matched) return at;
    }
    return -1;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

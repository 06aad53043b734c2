/**
 * SCP-ECG records on a serial line: records arrive one after another, each stating its length
 * (bytes 2–5) and CRC (bytes 0–1), in whatever pieces the port hands over, with noise before,
 * between or inside them. The framer finds record starts by the "SCPECG" marker in section 0's
 * header (16 bytes after the record start), judges a candidate as soon as section 0 has arrived
 * (marker, section ID 0, lengths within limits, section 0's own CRC), waits for the stated length,
 * checks the record CRC and decodes.
 *
 * It never waits on a lie for long: a stated length above `maxRecordBytes` is rejected at once, and
 * while a record is incomplete every later candidate is examined — a complete, CRC-valid record
 * starting inside the awaited one means the awaited one was cut short (cable glitch, cart reset),
 * so it is discarded and the new one delivered. After a CRC failure the search resumes one byte
 * after the failed start, so a record hidden behind a corrupted length is still found.
 *
 * Every byte pushed ends up in exactly one event: a record (`raw` = its bytes) or a discard.
 */
import { Buffer } from "node:buffer";
import type { LineDecoder, LineEvent } from "../line-decoder.ts";
import { crcCcitt } from "./crc.ts";
import { decodeScpEcg } from "./decode.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import { checkRecordHead, hex4, MARKER_OFFSET, RECORD_HEAD_LENGTH, SCP_MARKER } from "./record-layout.ts";

export interface ScpLineDecoderOptions {
  /** Largest record accepted, in bytes; a header stating more is treated as noise. Default 16 MiB. */
  maxRecordBytes?: number;
}

/** Discard code for bytes that belong to no record. */
export const SCP_GARBAGE = "SCP_GARBAGE";
const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Noise is reported in stretches; a long one is reported at least this often. */
const GARBAGE_REPORT_BYTES = 64 * 1024;
const MARKER = Buffer.from(SCP_MARKER);

export function createScpEcgLineDecoder(options: ScpLineDecoderOptions = {}): LineDecoder {
  return new ScpLineDecoder(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
}

class ScpLineDecoder implements LineDecoder {
  private readonly maxRecordBytes: number;
  private readonly queue = new ByteQueue();
  /** Record length of the candidate starting at the queue's first byte, once its head verified. */
  private awaited: number | undefined;
  /** Where the marker search resumes (queue-relative). */
  private searchFrom = MARKER_OFFSET;
  /** Where the search for a record interrupting the awaited one resumes (queue-relative). */
  private innerFrom = MARKER_OFFSET + 1;
  private garbageBytes = 0;
  private garbageDetail: string | undefined;

  constructor(maxRecordBytes: number) {
    this.maxRecordBytes = maxRecordBytes;
  }

  push(chunk: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    if (chunk.length === 0) return events;
    this.queue.append(chunk);
    this.process(events);
    return events;
  }

  end(): LineEvent[] {
    const events: LineEvent[] = [];
    this.process(events);
    if (this.awaited !== undefined && this.queue.length > 0) {
      this.flushGarbage(events);
      events.push({
        kind: "discarded",
        byteCount: this.queue.length,
        code: SCP_ERROR_CODES.truncated,
        reason: `SCP-ECG record cut short: ${this.queue.length} of its ${this.awaited} bytes arrived before the line closed`,
      });
    } else {
      this.garbageBytes += this.queue.length;
    }
    this.flushGarbage(events);
    this.queue.clear();
    this.awaited = undefined;
    this.searchFrom = MARKER_OFFSET;
    this.innerFrom = MARKER_OFFSET + 1;
    return events;
  }

  private process(events: LineEvent[]): void {
    for (;;) {
      const progressed =
        this.awaited === undefined ? this.findCandidate(events) : this.advanceCandidate(events);
      if (!progressed) break;
    }
    if (this.garbageBytes >= GARBAGE_REPORT_BYTES) this.flushGarbage(events);
  }

  /** Looks for the next plausible record head; drops what precedes it. Returns true when one was found. */
  private findCandidate(events: LineEvent[]): boolean {
    for (;;) {
      const marker = this.queue.indexOf(MARKER, this.searchFrom);
      if (marker < 0) {
        // Keep what could still be the start of a head whose marker is not complete yet.
        this.dropGarbage(Math.max(0, this.queue.length - (RECORD_HEAD_LENGTH - 1)));
        this.searchFrom = MARKER_OFFSET;
        return false;
      }
      const start = marker - MARKER_OFFSET;
      const check = checkRecordHead(this.queue.view(start), this.maxRecordBytes);
      if (check.status === "need-more") {
        this.dropGarbage(start);
        this.searchFrom = MARKER_OFFSET;
        return false;
      }
      if (check.status === "invalid") {
        this.garbageDetail = check.reason;
        this.searchFrom = marker + 1;
        continue;
      }
      this.dropGarbage(start);
      this.flushGarbage(events);
      this.awaited = check.recordLength;
      this.innerFrom = MARKER_OFFSET + 1;
      events.push({ kind: "receiving" });
      return true;
    }
  }

  /** Completes, rejects or abandons the awaited record. Returns true when it is settled. */
  private advanceCandidate(events: LineEvent[]): boolean {
    const length = this.awaited ?? 0;
    if (this.queue.length >= length) {
      const record = this.queue.view(0).subarray(0, length);
      const stored = (record[0] ?? 0) | ((record[1] ?? 0) << 8);
      const computed = crcCcitt(record, 2, length);
      if (stored === computed) {
        const raw = record.slice();
        this.settle(length);
        events.push(decodeEvent(raw));
        return true;
      }
      // A complete record inside means this one was cut short rather than damaged.
      const inside = this.nextPlausibleStart(1, true);
      if (inside !== undefined && inside < length) {
        this.settle(inside);
        events.push(cutShort(inside, length));
        return true;
      }
      // Resume one byte on: a record whose length field was hit may hide the next one.
      const next = this.nextPlausibleStart(1, false);
      const dropped = next !== undefined && next < length ? next : length;
      this.settle(dropped);
      events.push({
        kind: "discarded",
        byteCount: dropped,
        code: SCP_ERROR_CODES.badCrc,
        reason: `SCP-ECG record CRC mismatch (stored 0x${hex4(stored)}, computed 0x${hex4(computed)} over ${length - 2} bytes)`,
      });
      return true;
    }
    const interrupting = this.nextPlausibleStart(this.innerFrom - MARKER_OFFSET, true);
    if (interrupting === undefined) return false;
    this.settle(interrupting);
    events.push(cutShort(interrupting, length));
    return true;
  }

  /**
   * The first record start at or after `from` whose head is plausible — and, when `complete` is
   * asked, whose whole record is here with a valid CRC. Remembers how far the interruption search
   * got, so each push examines only what is new.
   */
  private nextPlausibleStart(from: number, complete: boolean): number | undefined {
    let markerFrom = Math.max(from + MARKER_OFFSET, MARKER_OFFSET + 1);
    for (;;) {
      const marker = this.queue.indexOf(MARKER, markerFrom);
      if (marker < 0) {
        if (complete) this.innerFrom = Math.max(this.innerFrom, this.queue.length - SCP_MARKER.length + 1);
        return undefined;
      }
      const start = marker - MARKER_OFFSET;
      const check = checkRecordHead(this.queue.view(start), this.maxRecordBytes);
      if (check.status === "need-more") {
        if (complete) this.innerFrom = marker;
        return complete ? undefined : start;
      }
      if (check.status === "plausible") {
        if (!complete) return start;
        const end = start + check.recordLength;
        if (end > this.queue.length) {
          this.innerFrom = marker;
          return undefined;
        }
        const candidate = this.queue.view(start).subarray(0, check.recordLength);
        const stored = (candidate[0] ?? 0) | ((candidate[1] ?? 0) << 8);
        if (stored === crcCcitt(candidate, 2, check.recordLength)) return start;
      }
      markerFrom = marker + 1;
      if (complete) this.innerFrom = markerFrom;
    }
  }

  /** The awaited record is over (delivered or dropped): forget `byteCount` bytes and search afresh. */
  private settle(byteCount: number): void {
    this.queue.drop(byteCount);
    this.awaited = undefined;
    this.searchFrom = MARKER_OFFSET;
    this.innerFrom = MARKER_OFFSET + 1;
  }

  private dropGarbage(byteCount: number): void {
    if (byteCount <= 0) return;
    this.queue.drop(byteCount);
    this.garbageBytes += byteCount;
  }

  private flushGarbage(events: LineEvent[]): void {
    if (this.garbageBytes === 0) return;
    const detail = this.garbageDetail ? `; a record header there was rejected: ${this.garbageDetail}` : "";
    events.push({
      kind: "discarded",
      byteCount: this.garbageBytes,
      code: SCP_GARBAGE,
      reason: `${this.garbageBytes} bytes outside any SCP-ECG record${detail}`,
    });
    this.garbageBytes = 0;
    this.garbageDetail = undefined;
  }
}

function cutShort(byteCount: number, statedLength: number): LineEvent {
  return {
    kind: "discarded",
    byteCount,
    code: SCP_ERROR_CODES.truncated,
    reason: `SCP-ECG record cut short: a complete record began after ${byteCount} of its ${statedLength} bytes`,
  };
}

/** A CRC-valid record: decoded, or discarded with the decoder's reason. */
function decodeEvent(raw: Uint8Array): LineEvent {
  try {
    return { kind: "record", record: decodeScpEcg(raw), raw };
  } catch (error) {
    if (error instanceof ScpEcgError) {
      return { kind: "discarded", byteCount: raw.length, code: error.code, reason: error.message };
    }
    const message = error instanceof Error ? error.message : String(error);
    return {
      kind: "discarded",
      byteCount: raw.length,
      code: "SCP_DECODE_FAILED",
      reason: `decoder failed: ${message}`,
    };
  }
}

/** Bytes received and not yet settled, appended at the end and dropped from the front. */
class ByteQueue {
  private data = new Uint8Array(4096);
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  append(chunk: Uint8Array): void {
    if (this.tail + chunk.length > this.data.length) {
      const needed = this.length + chunk.length;
      if (needed * 2 <= this.data.length) {
        this.data.copyWithin(0, this.head, this.tail);
      } else {
        const grown = new Uint8Array(needed * 2);
        grown.set(this.data.subarray(this.head, this.tail));
        this.data = grown;
      }
      this.tail = this.length;
      this.head = 0;
    }
    this.data.set(chunk, this.tail);
    this.tail += chunk.length;
  }

  drop(byteCount: number): void {
    this.head = Math.min(this.tail, this.head + byteCount);
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    }
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
  }

  /** The bytes from `from` to the end, without copying. */
  view(from: number): Uint8Array {
    return this.data.subarray(this.head + from, this.tail);
  }

  indexOf(pattern: Buffer, from: number): number {
    if (from >= this.length) return -1;
    const bytes = Buffer.from(this.data.buffer, this.data.byteOffset + this.head, this.length);
    return bytes.indexOf(pattern, from);
  }
}

/**
 * Little-endian reading with bounds checks, and a growable writer. Every read states what it was
 * reading, so a record that ends too early fails with a message naming the field, never with a
 * RangeError or a silently wrong value.
 */
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";

/** A window [start, end) of a byte array, read little endian. Offsets are relative to the window. */
export class ByteWindow {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** What the window is ("section 3"), for error messages. */
  readonly context: string;

  constructor(bytes: Uint8Array, start: number, end: number, context: string) {
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.context = context;
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Throws SCP_TRUNCATED unless `size` bytes at `offset` lie inside the window. */
  require(offset: number, size: number, what: string): void {
    if (offset < 0 || size < 0 || offset + size > this.length) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.truncated,
        `${this.context}: ${what} needs bytes ${offset}–${offset + size - 1} but the ${this.context} has only ${this.length}`,
      );
    }
  }

  u8(offset: number, what: string): number {
    this.require(offset, 1, what);
    return this.bytes[this.start + offset] ?? 0;
  }

  u16(offset: number, what: string): number {
    this.require(offset, 2, what);
    const at = this.start + offset;
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8);
  }

  i16(offset: number, what: string): number {
    const value = this.u16(offset, what);
    return value >= 0x8000 ? value - 0x10000 : value;
  }

  u32(offset: number, what: string): number {
    this.require(offset, 4, what);
    const at = this.start + offset;
    return (
      ((this.bytes[at] ?? 0) |
        ((this.bytes[at + 1] ?? 0) << 8) |
        ((this.bytes[at + 2] ?? 0) << 16) |
        ((this.bytes[at + 3] ?? 0) << 24)) >>>
      0
    );
  }

  /** A view (no copy) of `size` bytes at `offset`. */
  slice(offset: number, size: number, what: string): Uint8Array {
    this.require(offset, size, what);
    return this.bytes.subarray(this.start + offset, this.start + offset + size);
  }

  /** A sub-window (no copy) of `size` bytes at `offset`. */
  window(offset: number, size: number, context: string): ByteWindow {
    this.require(offset, size, context);
    return new ByteWindow(this.bytes, this.start + offset, this.start + offset + size, context);
  }
}

/** Appends little-endian values to a buffer that grows as needed. */
export class ByteWriter {
  private buffer = new Uint8Array(256);
  private used = 0;

  get length(): number {
    return this.used;
  }

  private reserve(size: number): number {
    if (this.used + size > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.used + size));
      grown.set(this.buffer.subarray(0, this.used));
      this.buffer = grown;
    }
    const at = this.used;
    this.used += size;
    return at;
  }

  u8(value: number): this {
    const at = this.reserve(1);
    this.buffer[at] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    const at = this.reserve(2);
    this.buffer[at] = value & 0xff;
    this.buffer[at + 1] = (value >>> 8) & 0xff;
    return this;
  }

  /** Signed 16-bit, two's complement. */
  i16(value: number): this {
    return this.u16(value & 0xffff);
  }

  u32(value: number): this {
    const at = this.reserve(4);
    this.buffer[at] = value & 0xff;
    this.buffer[at + 1] = (value >>> 8) & 0xff;
    this.buffer[at + 2] = (value >>> 16) & 0xff;
    this.buffer[at + 3] = (value >>> 24) & 0xff;
    return this;
  }

  bytes(value: Uint8Array): this {
    const at = this.reserve(value.length); // first: reserve may replace the buffer
    this.buffer.set(value, at);
    return this;
  }

  /** Zero bytes up to an even length (SCP-ECG sections and lead data are kept even). */
  padToEven(): this {
    if (this.used % 2 === 1) this.u8(0);
    return this;
  }

  /** A copy of what was written. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.used);
  }
}

/**
 * dcmjs-dimse reassembles every PDU by `Buffer.concat`-ing each socket chunk onto what it holds so
 * far (a 128 KiB PDU read in 64 KiB chunks is copied two or three times, in fresh allocations the
 * garbage collector then has to reclaim), and then parses it. The P-DATA-TF PDUs that carry the
 * middle of a C-STORE dataset need none of that: their PDV values only go to the staging file.
 *
 * This router takes the place of dcmjs-dimse's socket 'data' listener. It frames PDUs itself
 * (PS3.8 9.3.1) holding views of the socket's chunks, never copies, and at the end of each PDU:
 *  - a P-DATA-TF whose PDVs (PS3.8 9.3.5.1, E.2) are all dataset fragments on known presentation
 *    contexts, for a C-STORE: its values are written to the store stream, in order — exactly the
 *    writes dcmjs-dimse would have made. dcmjs-dimse is handed one empty fragment in place of the
 *    dataset's first PDU (it opens the store stream) and of its last (it ends it and answers);
 *  - every other PDU (association, commands, a dataset that fits one PDU, datasets of other
 *    services, anything odd) is handed whole to dcmjs-dimse's own listener, as before.
 * On an unknown PDU type it steps aside for good and forwards the raw bytes, so dcmjs-dimse sees
 * exactly the stream it would have seen (and fails on it as it would have).
 */
import type { Writable } from "node:stream";

const PDU_HEADER = 6;
const P_DATA_TF = 0x04;
/** PS3.8 9.3: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE-RQ/RP, A-ABORT. */
const KNOWN_PDU_TYPES = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
/** PS3.8 E.2, Message Control Header: bit 0 command, bit 1 last fragment. */
const COMMAND = 0x01;
const LAST_FRAGMENT = 0x02;

export interface PDataRoute {
  /** The C-STORE dataset's stream when middle fragments may bypass dcmjs-dimse now, else undefined. */
  storeStream(): Writable | undefined;
  /** Whether the association has this presentation context ID (dcmjs-dimse fails the PDU otherwise). */
  hasContext(id: number): boolean;
  /** dcmjs-dimse's own 'data' listener: whole PDUs, or the raw rest of the stream after an anomaly. */
  forward(bytes: Buffer): void;
  /** A P-DATA-TF of `bytes` (header included) was written to the store stream here. */
  bypassed(bytes: number): void;
}

export class PDataFastPath {
  readonly #route: PDataRoute;
  readonly #header = Buffer.alloc(PDU_HEADER);
  #headerFilled = 0;
  /** Body bytes still to come for the current PDU; -1 while reading a PDU header. */
  #bodyLeft = -1;
  #bodyLength = 0;
  #parts: Buffer[] = [];
  #raw = false;

  constructor(route: PDataRoute) {
    this.#route = route;
  }

  accept(chunk: Buffer): void {
    if (this.#raw) {
      this.#route.forward(chunk);
      return;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.#bodyLeft < 0) {
        const take = Math.min(PDU_HEADER - this.#headerFilled, chunk.length - at);
        chunk.copy(this.#header, this.#headerFilled, at, at + take);
        this.#headerFilled += take;
        at += take;
        if (this.#headerFilled < PDU_HEADER) return;
        this.#headerFilled = 0;
        if (!KNOWN_PDU_TYPES.has(this.#header[0]!)) {
          this.#raw = true;
          this.#route.forward(Buffer.concat([this.#header, chunk.subarray(at)]));
          return;
        }
        this.#bodyLength = this.#header.readUInt32BE(2);
        this.#bodyLeft = this.#bodyLength;
        this.#parts = [];
      }
      const take = Math.min(this.#bodyLeft, chunk.length - at);
      if (take > 0) {
        this.#parts.push(chunk.subarray(at, at + take));
        at += take;
        this.#bodyLeft -= take;
      }
      if (this.#bodyLeft === 0) {
        this.#bodyLeft = -1;
        this.#complete();
      }
    }
  }

  #complete(): void {
    const parts = this.#parts;
    this.#parts = [];
    const length = this.#bodyLength;
    if (this.#header[0] === P_DATA_TF && this.#bypass(parts, length)) return;
    this.#route.forward(Buffer.concat([this.#header, ...parts], PDU_HEADER + length));
  }

  /**
   * Writes a P-DATA-TF's dataset fragments to the store stream itself when it can; false when the
   * PDU must go to dcmjs-dimse whole. dcmjs-dimse still sees the two moments it must act on, as a
   * PDU holding one empty fragment: the dataset's first fragment (it opens the store stream,
   * synchronously, from its 'data' listener) and its last (it ends the stream and answers). An empty
   * fragment adds no byte to the dataset, so whatever dcmjs-dimse does with it, the bytes are right.
   */
  #bypass(parts: Buffer[], length: number): boolean {
    const fragments = datasetFragments(parts, length, this.#route);
    if (!fragments) return false;
    let stream = this.#route.storeStream();
    if (!stream) {
      // A dataset that fits one PDU is small: not worth the detour.
      if (fragments.lastContextId !== undefined) return false;
      this.#route.forward(emptyFragmentPdu(fragments.firstContextId, 0));
      stream = this.#route.storeStream();
      // Not a C-STORE dataset (dcmjs-dimse keeps those in memory): hand it the PDU as it came.
      if (!stream) return false;
    }
    for (const value of fragments.values) stream.write(value);
    this.#route.bypassed(PDU_HEADER + length);
    if (fragments.lastContextId !== undefined) {
      this.#route.forward(emptyFragmentPdu(fragments.lastContextId, LAST_FRAGMENT));
    }
    return true;
  }
}

interface DatasetFragments {
  values: Buffer[];
  firstContextId: number;
  /** The context of the dataset's last fragment, when this PDU ends the dataset. */
  lastContextId: number | undefined;
}

/**
 * The PDV values of a P-DATA-TF body when every PDV is well framed, on a known presentation context,
 * and a dataset fragment (not a command), at most the final one marked last; otherwise undefined
 * (dcmjs-dimse must see the PDU as it came).
 */
function datasetFragments(
  parts: Buffer[],
  length: number,
  route: Pick<PDataRoute, "hasContext">,
): DatasetFragments | undefined {
  const reader = new PartsReader(parts, length);
  const values: Buffer[] = [];
  let firstContextId: number | undefined;
  let lastContextId: number | undefined;
  while (reader.left > 0) {
    if (lastContextId !== undefined) return undefined; // a fragment after the last one: odd, not ours
    if (reader.left < PDU_HEADER) return undefined;
    const itemLength = reader.uint32();
    const contextId = reader.byte();
    const control = reader.byte();
    if (itemLength < 2 || itemLength - 2 > reader.left) return undefined;
    if (control & COMMAND || !route.hasContext(contextId)) return undefined;
    firstContextId ??= contextId;
    if (control & LAST_FRAGMENT) lastContextId = contextId;
    reader.take(itemLength - 2, values);
  }
  if (firstContextId === undefined) return undefined;
  return { values, firstContextId, lastContextId };
}

/** A P-DATA-TF of one dataset PDV with no value (PS3.8 9.3.5.1: item length 2 = header only). */
function emptyFragmentPdu(contextId: number, control: number): Buffer {
  const pdu = Buffer.alloc(PDU_HEADER + 6);
  pdu[0] = P_DATA_TF;
  pdu.writeUInt32BE(6, 2);
  pdu.writeUInt32BE(2, 6);
  pdu[10] = contextId;
  pdu[11] = control;
  return pdu;
}

/** Sequential reads across a list of buffers, returning views, never copies. */
class PartsReader {
  readonly #parts: Buffer[];
  #index = 0;
  #offset = 0;
  left: number;

  constructor(parts: Buffer[], length: number) {
    this.#parts = parts;
    this.left = length;
  }

  byte(): number {
    while (this.#offset >= this.#parts[this.#index]!.length) {
      this.#index += 1;
      this.#offset = 0;
    }
    const value = this.#parts[this.#index]![this.#offset]!;
    this.#offset += 1;
    this.left -= 1;
    return value;
  }

  uint32(): number {
    return ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0;
  }

  /** `count` bytes as views appended to `out`. */
  take(count: number, out: Buffer[]): void {
    let wanted = count;
    while (wanted > 0) {
      const part = this.#parts[this.#index]!;
      const available = part.length - this.#offset;
      if (available === 0) {
        this.#index += 1;
        this.#offset = 0;
        continue;
      }
      const n = Math.min(wanted, available);
      out.push(part.subarray(this.#offset, this.#offset + n));
      this.#offset += n;
      wanted -= n;
    }
    this.left -= count;
  }
}

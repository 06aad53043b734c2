/**
 * Follows the PDU framing of the incoming byte stream (PS3.8 9.3.1: type, reserved byte, 32-bit
 * length) beside dcmjs-dimse, which buffers a whole PDU before parsing it: a peer announcing a
 * 4 GiB PDU, or garbage that reads as one, would otherwise grow memory until a timeout.
 */

/** PS3.8 9.3: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE-RQ/RP, A-ABORT. */
const PDU_TYPES = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
const P_DATA_TF = 0x04;
/** Association PDUs carry presentation contexts and user items: 1 MiB is generous. */
const MAX_OTHER_PDU_LENGTH = 1024 * 1024;
/** Implementations that count the PDV headers or the PDU header in the length overshoot slightly. */
const P_DATA_SLACK = 1024;

export class PduGuard {
  readonly #maxPDataLength: number;
  #header = new Uint8Array(6);
  #headerFilled = 0;
  #bodyLeft = 0;
  #completed = 0;

  /** @param maxPduLength the Maximum Length we announce for P-DATA-TF PDUs, in bytes (PS3.8 D.1). */
  constructor(maxPduLength: number) {
    this.#maxPDataLength = maxPduLength + P_DATA_SLACK;
  }

  /** PDUs received whole so far (the association watchdog counts progress in PDUs). */
  get completedPdus(): number {
    return this.#completed;
  }

  /** Feed received bytes; returns why the stream must be cut, or undefined while it looks sane. */
  accept(chunk: Uint8Array): string | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.#bodyLeft > 0) {
        const take = Math.min(this.#bodyLeft, chunk.length - at);
        this.#bodyLeft -= take;
        at += take;
        if (this.#bodyLeft === 0) this.#completed += 1;
        continue;
      }
      const take = Math.min(6 - this.#headerFilled, chunk.length - at);
      this.#header.set(chunk.subarray(at, at + take), this.#headerFilled);
      this.#headerFilled += take;
      at += take;
      if (this.#headerFilled < 6) break;
      this.#headerFilled = 0;
      const type = this.#header[0] ?? 0;
      const length = new DataView(this.#header.buffer).getUint32(2, false);
      if (!PDU_TYPES.has(type)) return `unknown PDU type 0x${type.toString(16)}`;
      const limit = type === P_DATA_TF ? this.#maxPDataLength : MAX_OTHER_PDU_LENGTH;
      if (length > limit) return `PDU type ${type} announces ${length} bytes, limit ${limit}`;
      this.#bodyLeft = length;
      if (length === 0) this.#completed += 1;
    }
    return undefined;
  }
}

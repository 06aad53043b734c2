/**
 * What every serial ECG protocol provides: a decoder fed the bytes of a line as they arrive, in
 * whatever pieces the operating system hands them over (a record split across reads, several run
 * together, garbage in between). It never throws on bad input: it reports what it dropped and why,
 * and resynchronises. The serial driver owns the port; the decoder owns only the byte stream.
 */
import type { EcgRecord } from "./ecg-record.ts";

export type LineEvent =
  /** A complete record, verified (CRC/checksums) and decoded. `raw` = the record's own bytes when the protocol has a file form (SCP-ECG). */
  | { kind: "record"; record: EcgRecord; raw?: Uint8Array }
  /** Bytes given up on: garbage before a sync, a bad CRC, a record that verified but could not be decoded. No patient data in `reason`. */
  | { kind: "discarded"; byteCount: number; reason: string; code: string }
  /** Valid protocol data is flowing (a verified frame, a record header): the device is "receiving". */
  | { kind: "receiving" };

export interface LineDecoder {
  /** Feed the next bytes from the line; returns what they completed. */
  push(chunk: Uint8Array): LineEvent[];
  /**
   * The line closed (cable pulled, adapter gone, gateway stopping): returns what can still be
   * completed (e.g. a stream record cut short, marked as such in its notes) and resets the decoder.
   */
  end(): LineEvent[];
}

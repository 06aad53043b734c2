/**
 * The frame checksums a module may use. CRC-16/CCITT-FALSE (polynomial 0x1021, initial value
 * 0xFFFF, no reflection, no final XOR; check value 0x29B1 over "123456789") is the default: a plain
 * sum misses swapped bytes and lets a frame with a dropped byte pass one time in 256 (sum8).
 */
import type { StreamChecksum } from "./settings.ts";

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

export function crc16Ccitt(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum += byte;
  return sum;
}

/** The checksum value over `bytes` (the frame from the counter to the last sample byte). */
export function computeChecksum(kind: StreamChecksum, bytes: Uint8Array): number {
  switch (kind) {
    case "crc16-ccitt":
      return crc16Ccitt(bytes);
    case "sum16":
      return byteSum(bytes) & 0xffff;
    case "sum8":
      return byteSum(bytes) & 0xff;
  }
}

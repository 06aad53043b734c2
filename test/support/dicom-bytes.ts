/**
 * Byte-level helpers for comparing DICOM Part 10 files: a modality sends the dataset, the receiver
 * writes its own File Meta Information, so "what arrived unchanged" is the dataset after group 0002.
 */

/** The dataset bytes of a Part 10 file (everything after the File Meta Information group). */
export function datasetOf(part10: Uint8Array): Buffer {
  const bytes = Buffer.from(part10.buffer, part10.byteOffset, part10.byteLength);
  if (bytes.toString("ascii", 128, 132) !== "DICM") throw new Error("not a DICOM Part 10 file");
  // PS3.10 7.1: (0002,0000) UL, explicit VR little endian, right after the preamble and "DICM".
  if (bytes.readUInt16LE(132) !== 0x0002 || bytes.readUInt16LE(134) !== 0x0000) {
    throw new Error("file meta does not start with (0002,0000) group length");
  }
  const groupLength = bytes.readUInt32LE(140);
  return bytes.subarray(144 + groupLength);
}

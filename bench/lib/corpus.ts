/**
 * Benchmark corpora, generated quickly and without holding large files in memory: one small template
 * built with the test fixture (dcmjs), cloned by rewriting its SOP Instance UID in place (same
 * length, so no element length changes); the streaming instance is written frame by frame.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeDicomFile, newUid } from "../../test/fixtures/make-dicom.ts";

export interface Corpus {
  name: string;
  files: string[];
  bytes: number;
}

export const DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1";

/** A fixed-length UID: "2.25.1" + 37 digits (under 64 characters, no leading zero). */
function uidNumber(run: string, index: number): string {
  return `2.25.1${run}${String(index).padStart(37 - run.length, "0")}`;
}

/** Replace every occurrence of `from` by `to` (equal lengths) in `bytes`, in place. */
function replaceAll(bytes: Buffer, from: string, to: string): number {
  const needle = Buffer.from(from, "ascii");
  const replacement = Buffer.from(to, "ascii");
  let count = 0;
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + needle.length)) {
    replacement.copy(bytes, at);
    count += 1;
  }
  return count;
}

/** `count` single-frame instances of one study, identical but for their SOP Instance UIDs. */
export async function writeClones(
  dir: string,
  name: string,
  count: number,
  options: { rows: number; columns: number; sopClassUid?: string; modality?: string },
): Promise<Corpus> {
  await mkdir(dir, { recursive: true });
  const run = String(Date.now() % 1e9);
  const placeholder = uidNumber(run, 0);
  const template = Buffer.from(
    makeDicomFile({
      rows: options.rows,
      columns: options.columns,
      bitsAllocated: 16,
      sopInstanceUid: placeholder,
      ...(options.sopClassUid ? { sopClassUid: options.sopClassUid } : {}),
      ...(options.modality ? { modality: options.modality } : {}),
    }).bytes,
  );
  const files: string[] = [];
  for (let index = 1; index <= count; index += 1) {
    const copy = Buffer.from(template);
    // Twice: (0002,0003) in the file meta and (0008,0018) in the dataset.
    if (replaceAll(copy, placeholder, uidNumber(run, index)) !== 2) throw new Error("UID not found twice");
    const path = join(dir, `${index}.dcm`);
    await writeFile(path, copy);
    files.push(path);
  }
  return { name, files, bytes: template.length * count };
}

/**
 * One US Multi-frame instance of about `megabytes` MB (640 × 480, 8-bit): the header comes from a
 * 1 × 2-pixel, 1000-frame fixture whose Rows, Columns and Number of Frames are patched (same value
 * lengths), then Pixel Data is written frame by frame, so this process never holds the file.
 */
export async function writeLargeMultiframe(dir: string, megabytes: number): Promise<Corpus> {
  await mkdir(dir, { recursive: true });
  const rows = 480;
  const columns = 640;
  const frameBytes = rows * columns;
  const frames = Math.min(9999, Math.max(1000, Math.round((megabytes * 1e6) / frameBytes)));
  const fixture = Buffer.from(
    makeDicomFile({ rows: 1, columns: 2, frames: 1000, bitsAllocated: 8, studyInstanceUid: newUid() }).bytes,
  );
  const patch = (header: number[], value: Buffer) => {
    const at = fixture.indexOf(Buffer.from(header));
    if (at < 0) throw new Error(`element ${header.slice(0, 4)} not found`);
    value.copy(fixture, at + header.length);
  };
  const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  patch([0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00], u16(rows)); // (0028,0010) Rows US
  patch([0x28, 0x00, 0x11, 0x00, 0x55, 0x53, 0x02, 0x00], u16(columns)); // (0028,0011) Columns US
  patch([0x28, 0x00, 0x08, 0x00, 0x49, 0x53, 0x04, 0x00], Buffer.from(String(frames), "ascii")); // IS "1000"
  // Pixel Data (7FE0,0010) OB is the dataset's last element: keep everything before it.
  const pixelTag = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0x00, 0x00]);
  const pixelAt = fixture.lastIndexOf(pixelTag);
  if (pixelAt < 0) throw new Error("Pixel Data not found");
  const pixelBytes = frameBytes * frames;
  const length = Buffer.alloc(4);
  length.writeUInt32LE(pixelBytes);

  const path = join(dir, "multiframe.dcm");
  const out = createWriteStream(path);
  out.write(fixture.subarray(0, pixelAt));
  out.write(pixelTag);
  out.write(length);
  const frame = Buffer.alloc(frameBytes);
  for (let i = 0; i < frameBytes; i += 1) frame[i] = (i * 7) % 251;
  for (let f = 0; f < frames; f += 1) {
    if (!out.write(frame)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return { name: "stream", files: [path], bytes: pixelAt + 12 + pixelBytes };
}

/** Test studies: real files in a temporary directory, with descriptors that match them. */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PreviewMediaType, StudyDescriptor } from "../protocol/index.ts";
import type { OutboundInstance, OutboundPreview, OutboundStudy } from "../types.ts";

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "dxgate-uploader-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

let counter = 0;

/** A study whose instances have the given sizes, written under `dir` with random bytes. */
export async function makeStudy(
  dir: string,
  sizes: number[],
): Promise<{ outbound: OutboundStudy; bytes: Map<string, Buffer> }> {
  counter += 1;
  const studyInstanceUid = `1.2.826.0.1.3680043.10.1.${process.pid}.${counter}`;
  const bytes = new Map<string, Buffer>();
  const instances: OutboundInstance[] = [];
  for (const [index, size] of sizes.entries()) {
    const sopInstanceUid = `${studyInstanceUid}.${index + 1}`;
    const data = randomBytes(size);
    const path = join(dir, `${sopInstanceUid}.dcm`);
    await writeFile(path, data);
    bytes.set(sopInstanceUid, data);
    instances.push({
      sopInstanceUid,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.1.1",
      transferSyntaxUid: "1.2.840.10008.1.2.4.80",
      seriesInstanceUid: `${studyInstanceUid}.0`,
      size,
      sha256: createHash("sha256").update(data).digest("hex"),
      path,
    });
  }
  const study: StudyDescriptor = {
    studyInstanceUid,
    priority: "routine",
    modalities: ["DX"],
    patient: { id: "TEST-1", name: "TEST^PATIENT", sex: "O", birthDate: "19700101", age: "055Y" },
    studyDate: "20250101",
    studyTime: "120000",
    studyDescription: "test study",
    accessionNumber: "A1",
    receivedAt: new Date().toISOString(),
  };
  return { outbound: { study, instances }, bytes };
}

/**
 * A preview file under `dir` whose bytes pass the protocol's media-type check (a PNG or JPEG
 * signature followed by random bytes, or a small SVG document), with a matching descriptor.
 */
export async function makePreview(
  dir: string,
  previewId: string,
  options: { size?: number; mediaType?: PreviewMediaType } = {},
): Promise<{ preview: OutboundPreview; data: Buffer }> {
  const mediaType = options.mediaType ?? "image/png";
  const size = options.size ?? 4000;
  let data: Buffer;
  if (mediaType === "image/svg+xml") {
    const body = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><desc>${"x".repeat(size)}</desc></svg>`;
    data = Buffer.from(body);
  } else {
    const signature =
      mediaType === "image/png"
        ? Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        : Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
    data = Buffer.concat([signature, randomBytes(Math.max(0, size - signature.length))]);
  }
  counter += 1;
  const path = join(dir, `preview-${counter}-${previewId}`);
  await writeFile(path, data);
  return {
    data,
    preview: {
      previewId,
      mediaType,
      path,
      size: data.length,
      sha256: createHash("sha256").update(data).digest("hex"),
      width: 40,
      height: 30,
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Test studies: real files in a temporary directory, with descriptors that match them. */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StudyDescriptor } from "../protocol/index.ts";
import type { OutboundInstance, OutboundStudy } from "../types.ts";

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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

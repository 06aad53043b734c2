import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { makeDicomFile } from "../../test/fixtures/make-dicom.ts";
import { treeDigest } from "../../test/fixtures/make-medium.ts";
import { readDicomEcg } from "../ecg/dicom/index.ts";
import { createEcgStore } from "../ecg/import/index.ts";
import { encodeScpEcg } from "../ecg/scp-ecg/index.ts";
import { generateSyntheticEcg } from "../ecg/stream/index.ts";
import { aecgDocument, synthetic12 } from "../ecg/xml/xml-test-support.ts";
import type { InstanceSink, ReceivedInstance, StoreResult } from "../types.ts";
import { createMediaImporter } from "./media-importer.ts";

/** Keeps every instance: ECGs arrive as bytes, DICOM files as staged files. */
class KeepingSink implements InstanceSink {
  readonly instances = new Map<string, { instance: ReceivedInstance; bytes: Uint8Array }>();
  readonly #dir: string;
  #n = 0;
  constructor(dir: string) {
    this.#dir = dir;
  }
  async stagingPath(): Promise<string> {
    await mkdir(this.#dir, { recursive: true });
    return join(this.#dir, `staged-${this.#n++}`);
  }
  async store(instance: ReceivedInstance): Promise<StoreResult> {
    const bytes =
      instance.part10.kind === "bytes"
        ? instance.part10.bytes
        : new Uint8Array(await readFile(instance.part10.path));
    if (instance.part10.kind === "file") await rm(instance.part10.path);
    const uid = instance.attributes.sopInstanceUid;
    const known = this.instances.has(uid);
    this.instances.set(uid, { instance, bytes });
    return { status: known ? "duplicate" : "stored" };
  }
}

test("ECG exports on a stick (SCP-ECG, HL7 aECG) become DICOM ECGs once, beside DICOM files; a broken one is listed", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-media-ecg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stick = join(dir, "media", "CART");
  await mkdir(join(stick, "ECG"), { recursive: true });
  const scpRecord = generateSyntheticEcg({
    seconds: 10,
    patient: { id: "SCP-1", name: "Qian^Jun", sex: "M" },
  });
  await writeFile(join(stick, "ECG", "00000001.SCP"), encodeScpEcg(scpRecord));
  const leads = synthetic12(1000, 500);
  const aecg = aecgDocument({ rhythm: [...leads].map(([name, digits]) => ({ name, digits })) });
  await writeFile(join(stick, "ECG", "rest-ecg.xml"), aecg);
  await writeFile(join(stick, "ECG", "BROKEN.SCP"), "this is not an SCP-ECG record, whatever its name says");
  await writeFile(join(stick, "README.TXT"), "exported by the cart");
  const dicom = makeDicomFile({ patientName: "Mixed^Stick" });
  await writeFile(join(stick, "US0001.dcm"), dicom.bytes);
  const before = await treeDigest(stick);

  const sink = new KeepingSink(join(dir, "staging"));
  const mounts: string[] = [];
  const ecg = createEcgStore({ sink, log: silentLogger(), preview: false });
  const importer = createMediaImporter({
    sink,
    ecg,
    log: silentLogger(),
    stateDir: join(dir, "state"),
    folders: [],
    usbMountRoot: join(dir, "media"),
    scanIntervalMs: 3_600_000,
    listMounts: async () => [...mounts],
  });
  t.after(() => importer.stop());
  await importer.start();
  mounts.push(stick);
  await importer.scanNow();

  const [job] = importer.jobs();
  assert.equal(job?.state, "done");
  assert.equal(job.found, 4);
  assert.equal(job.imported, 3);
  assert.equal(job.skipped, 1);
  assert.equal(job.failed.length, 1);
  assert.equal(job.failed[0]!.file, join("ECG", "BROKEN.SCP"));
  assert.match(job.failed[0]!.reason, /^not a readable scp-ecg file \(SCP_/);
  assert.equal(await treeDigest(stick), before, "the stick is never modified");

  const ecgs = [...sink.instances.values()].filter((i) => i.instance.attributes.modality === "ECG");
  assert.equal(ecgs.length, 2);
  const fromScp = ecgs.find((i) => i.instance.attributes.patientId === "SCP-1");
  assert.ok(fromScp, "the SCP-ECG's patient is in its DICOM");
  assert.deepEqual(fromScp.instance.source, { kind: "file", path: join(stick, "ECG", "00000001.SCP") });
  const back = readDicomEcg(fromScp.bytes);
  const leadII = back.rhythm.leads.find((l) => l.name === "II")!;
  const sourceII = scpRecord.rhythm.leads.find((l) => l.name === "II")!;
  assert.deepEqual(
    Array.from(leadII.samples, (s) => s * leadII.nanovoltsPerUnit),
    Array.from(sourceII.samples, (s) => s * sourceII.nanovoltsPerUnit),
  );
  const fromXml = ecgs.find((i) => i.instance.attributes.patientId === "0042");
  assert.ok(fromXml, "the aECG's subject is in its DICOM");

  // The same stick again: nothing new (the ledger knows the files), the broken file fails again.
  mounts.length = 0;
  await importer.scanNow();
  mounts.push(stick);
  await importer.scanNow();
  const [again] = importer.jobs();
  assert.equal(again?.imported, 0);
  assert.equal(again.duplicates, 3);
  assert.equal(sink.instances.size, 3);
});

test("without an ECG pipeline, ECG files are passed over as other files", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-media-ecg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const folder = join(dir, "export");
  await mkdir(folder);
  await writeFile(join(folder, "a.scp"), encodeScpEcg(generateSyntheticEcg({ seconds: 2 })));
  const sink = new KeepingSink(join(dir, "staging"));
  const importer = createMediaImporter({
    sink,
    log: silentLogger(),
    stateDir: join(dir, "state"),
    folders: [folder],
    usbMountRoot: "",
    scanIntervalMs: 3_600_000,
    stableMs: 0,
  });
  t.after(() => importer.stop());
  await importer.start();
  await importer.scanNow();
  await importer.scanNow();
  assert.equal(sink.instances.size, 0);
  const [job] = importer.jobs();
  assert.equal(job?.imported ?? 0, 0);
});

/**
 * ECG files carts export (SCP-ECG, HL7 aECG, Philips, GE MUSE XML), dropped into a watched import
 * folder of the real gateway: each becomes a DICOM ECG at the reading centre (dciodvfy clean, the
 * file's samples), progress in GET /api/imports, the folder untouched; a malformed export is listed
 * as failed. The real exports in ../shared/data are used when present (skipped loudly otherwise);
 * a generated SCP-ECG file always.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readDicomEcg } from "../device-drivers/ecg/dicom/index.ts";
import { decodeEcgFile, detectEcgFile } from "../device-drivers/ecg/import/index.ts";
import { encodeScpEcg } from "../device-drivers/ecg/scp-ecg/index.ts";
import { generateSyntheticEcg } from "../device-drivers/ecg/stream/index.ts";
import { treeDigest } from "./fixtures/make-medium.ts";
import {
  assertSameSamples,
  assertValidDicomEcg,
  countyInstances,
  DCIODVFY_SKIP,
  newEcgStudies,
  SHARED_DATA,
  SHARED_SKIP,
} from "./support/ecg.ts";
import { eventually, type RunningProcess } from "./support/processes.ts";
import { provisionBox, ReadingCentreClient, startGateway, startReadingCentre } from "./support/stack.ts";

interface ImportJob {
  path: string;
  state: string;
  found: number;
  imported: number;
  duplicates: number;
  failed: Array<{ file: string; reason: string }>;
}

describe("ECG files from a watched folder", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;
  let folder: string;
  const known = new Set<string>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-ecg-files-"));
    folder = join(work, "cart-export");
    await mkdir(folder);
    rc = await startReadingCentre(join(work, "rc"));
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, {
      ...box,
      DXGATE_IMPORT_FOLDERS: folder,
      DXGATE_IMPORT_USB_MOUNT_ROOT: "",
      DXGATE_IMPORT_SCAN_INTERVAL_MS: "200",
      DXGATE_SERIAL_WATCH: "0",
    });
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const jobs = async () =>
    (await (await fetch(`http://127.0.0.1:${gateway.port("http")}/api/imports`)).json()) as ImportJob[];

  test("a generated SCP-ECG file becomes a DICOM ECG with its patient and samples", async () => {
    const record = generateSyntheticEcg({
      seconds: 10,
      patient: { id: "FILE-1", name: "Tang^Yu", sex: "F" },
    });
    const bytes = encodeScpEcg(record);
    await writeFile(join(folder, "ECG00001.SCP"), bytes);
    const [study] = await newEcgStudies(gateway.port("http"), known);
    const [instance] = await countyInstances(county, study!.studyInstanceUid);
    const arrived = readDicomEcg(instance!.bytes);
    assert.equal(arrived.patient.id, "FILE-1");
    assert.equal(arrived.patient.name, "Tang^Yu");
    assertSameSamples(arrived, decodeEcgFile(bytes, "scp-ecg"));
    if (!DCIODVFY_SKIP) assertValidDicomEcg(instance!.bytes, "generated SCP-ECG file");
    const job = await eventually(
      async () => (await jobs()).find((j) => j.state === "done" && j.imported === 1),
      10_000,
      "the import job",
    );
    assert.equal(job.found, 1);
  });

  test("the real ECG exports (SCP-ECG, HL7 aECG, Philips, GE MUSE) arrive as DICOM ECGs; the empty aECG is listed as failed", {
    skip: SHARED_SKIP,
  }, async () => {
    const sources = [
      ...(await readdir(join(SHARED_DATA, "ecg-xml"))).map((name) => join(SHARED_DATA, "ecg-xml", name)),
      join(SHARED_DATA, "ecg-scp", "Example.scp"),
    ];
    const expected = new Map<string, ReturnType<typeof decodeEcgFile>>();
    const failing: string[] = [];
    for (const source of sources) {
      const name = source.split("/").at(-1)!;
      const bytes = await readFile(source);
      const format = detectEcgFile(bytes, name);
      assert.ok(format, `${name} is recognised`);
      try {
        expected.set(name, decodeEcgFile(bytes, format));
      } catch {
        failing.push(name);
      }
    }
    assert.deepEqual(failing, ["hl7aecg_empty.xml"]);
    await mkdir(join(folder, "real"));
    for (const source of sources) await copyFile(source, join(folder, "real", source.split("/").at(-1)!));
    const before = await treeDigest(join(folder, "real"));

    const studies = await newEcgStudies(gateway.port("http"), known, expected.size, 60_000);
    assert.equal(studies.length, expected.size);
    const job = await eventually(
      async () => (await jobs()).find((j) => j.state === "done" && j.found === sources.length),
      20_000,
      "the import job of the real files",
    );
    assert.equal(job.imported, expected.size);
    assert.deepEqual(
      job.failed.map((f) => f.file),
      [join("real", "hl7aecg_empty.xml")],
    );
    assert.match(job.failed[0]!.reason, /^not a readable hl7-aecg file \(ECG_XML_/);
    assert.equal(await treeDigest(join(folder, "real")), before, "the folder is never modified");

    // Each study at the county: dciodvfy clean, and one of its instances has a file's rhythm.
    const unmatched = new Map(expected);
    for (const study of studies) {
      const instances = await countyInstances(county, study.studyInstanceUid);
      if (!DCIODVFY_SKIP)
        for (const instance of instances) assertValidDicomEcg(instance.bytes, study.studyInstanceUid);
      const records = instances.map((i) => readDicomEcg(i.bytes));
      const match = [...unmatched].find(([, source]) =>
        records.some((r) => {
          try {
            assertSameSamples(r, source);
            return true;
          } catch {
            return false;
          }
        }),
      );
      assert.ok(match, `study ${study.studyInstanceUid} has the samples of one of the files`);
      unmatched.delete(match[0]);
    }
    assert.deepEqual([...unmatched.keys()], []);
  });
});

/**
 * Every real DICOM file we can find, through the whole chain: the shared sample corpus
 * (../shared/data: dicom-ts, dx-cr, us, ecg-dicom, and dicom-malformed) and Debian python3-pydicom's
 * test files. Each is sent with DCMTK storescu to one gateway connected to one reading centre.
 * - A valid file must arrive at the county with exactly the dataset DCMTK sent, in the file's own
 *   transfer syntax (storescu is told to propose it, so nothing is converted on the way).
 * - A malformed file must do no harm: refused by storescu or by the gateway with nothing half-stored,
 *   or (if it is well-framed enough to be accepted) arrive exactly as sent. The gateway must serve
 *   echoscu afterwards and leave no staging files.
 * Files storescu cannot send are listed with the reason, never silently dropped.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { datasetOf } from "./support/dicom-bytes.ts";
import { eventually, freePort, ROOT, type RunningProcess } from "./support/processes.ts";
import { provisionBox, ReadingCentreClient, run, startGateway, startReadingCentre } from "./support/stack.ts";

const SHARED = join(ROOT, "..", "shared", "data");
const SHARED_VALID_DIRS = ["dicom-ts", "dx-cr", "us", "ecg-dicom"];
const SHARED_MALFORMED_DIR = "dicom-malformed";
const PYDICOM = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

/** pydicom test files that are broken on purpose (its README.txt and test suite say so). */
const PYDICOM_MALFORMED = new Set([
  "MR_truncated.dcm",
  "rtplan_truncated.dcm",
  "no_meta.dcm",
  "ExplVR_LitEndNoMeta.dcm",
  "ExplVR_BigEndNoMeta.dcm",
  "meta_missing_tsyntax.dcm",
  "badVR.dcm",
  "JPEG2000-embedded-sequence-delimiter.dcm",
  "no_meta_group_length.dcm",
  "reportsi_with_empty_number_tags.dcm",
]);

/**
 * Valid files that storescu (DCMTK 3.6.7) cannot send, with the reason. They are still attempted;
 * the test fails if one starts to go through (then it must arrive identical and leave this list).
 */
const STORESCU_CANNOT_SEND: Record<string, string> = {
  "shared/dicom-ts/HTJ2KLossless_08_RGB.dcm":
    "DCMTK 3.6.7 does not know HTJ2K (1.2.840.10008.1.2.4.201): it proposes no context for it and " +
    "fails with 'unable to convert dataset'; the gateway accepts the syntax from a sender that knows it",
};

const TS = {
  implicitLe: "1.2.840.10008.1.2",
  explicitLe: "1.2.840.10008.1.2.1",
  deflated: "1.2.840.10008.1.2.1.99",
  explicitBe: "1.2.840.10008.1.2.2",
};

interface Item {
  /** Where it came from, for messages: "shared/us/US1_UNCR.dcm" or "pydicom/CT_small.dcm". */
  label: string;
  source: string;
  malformed: boolean;
  /** The file actually sent (a copy; relabelled with fresh UIDs when another file has its UIDs). */
  path: string;
  relabelled: boolean;
  transferSyntax: string | undefined;
  sopInstanceUid: string | undefined;
  outcome?: { sent: boolean; message: string };
}

async function listDir(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => !/\.(txt|md|json|dump|gz)$/i.test(n)).map((n) => join(dir, n));
}

/** (0002,0010) of a Part 10 file, undefined without file meta (PS3.10 7.1: explicit VR LE). */
function metaTransferSyntax(bytes: Buffer): string | undefined {
  if (bytes.length < 132 || bytes.toString("latin1", 128, 132) !== "DICM") return undefined;
  let at = 132;
  while (at + 8 <= bytes.length && bytes.readUInt16LE(at) === 0x0002) {
    const element = bytes.readUInt16LE(at + 2);
    const vr = bytes.toString("latin1", at + 4, at + 6);
    const long = ["OB", "OW", "UN", "SQ", "UT", "UC", "UR", "OD", "OF", "OL", "OV"].includes(vr);
    const length = long ? bytes.readUInt32LE(at + 8) : bytes.readUInt16LE(at + 6);
    const valueAt = at + (long ? 12 : 8);
    if (element === 0x0010) return bytes.toString("latin1", valueAt, valueAt + length).replace(/[\0 ]+$/, "");
    at = valueAt + length;
  }
  return undefined;
}

async function sopInstanceUidOf(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("dcmdump", ["-q", "+P", "0008,0018", path], { timeout: 10_000 });
    return /\[([0-9.]+)\]/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** storescu's option that proposes the file's own transfer syntax first, so nothing is converted. */
const PROPOSE: Record<string, string> = {
  [TS.implicitLe]: "-xi",
  [TS.explicitLe]: "-xe",
  [TS.explicitBe]: "-xb",
  [TS.deflated]: "-xd",
  "1.2.840.10008.1.2.4.50": "-xy", // JPEG baseline
  "1.2.840.10008.1.2.4.51": "-xx", // JPEG extended
  "1.2.840.10008.1.2.4.57": "-xs", // JPEG lossless
  "1.2.840.10008.1.2.4.70": "-xs", // JPEG lossless SV1
  "1.2.840.10008.1.2.4.80": "-xt", // JPEG-LS lossless
  "1.2.840.10008.1.2.4.81": "-xu", // JPEG-LS near-lossless
  "1.2.840.10008.1.2.4.90": "-xv", // JPEG 2000 lossless
  "1.2.840.10008.1.2.4.91": "-xw", // JPEG 2000
  "1.2.840.10008.1.2.5": "-xr", // RLE
};

/**
 * The storescu options for one file. -R proposes only the SOP class and syntaxes the file needs
 * (without it the 120-odd default storage contexts take the 128 allowed); the -x option puts the
 * file's own syntax first, since storescu's own "add the file's syntax" rule misses some files.
 */
function proposeOption(transferSyntax: string | undefined): string[] {
  const option = transferSyntax ? PROPOSE[transferSyntax] : undefined;
  return option ? ["-R", option] : ["-R"];
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

const uid = () => `2.25.${BigInt(`0x${randomBytes(15).toString("hex")}`)}`;

describe("the real-file corpus through storescu, gateway and reading centre", () => {
  let work: string;
  let rc: RunningProcess | undefined;
  let gateway: RunningProcess | undefined;
  let county: ReadingCentreClient;
  const items: Item[] = [];
  const absent: string[] = [];
  let reference: ChildProcess | undefined;
  let referenceDir = "";
  let referencePort = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-corpus-"));
    const sources: Array<{ label: string; source: string; malformed: boolean }> = [];
    if (existsSync(SHARED)) {
      for (const dir of SHARED_VALID_DIRS)
        for (const path of await listDir(join(SHARED, dir)))
          sources.push({ label: `shared/${dir}/${basename(path)}`, source: path, malformed: false });
      for (const path of await listDir(join(SHARED, SHARED_MALFORMED_DIR)))
        sources.push({
          label: `shared/${SHARED_MALFORMED_DIR}/${basename(path)}`,
          source: path,
          malformed: true,
        });
    } else absent.push(`the shared corpus ${SHARED}`);
    if (existsSync(PYDICOM)) {
      for (const path of await listDir(PYDICOM)) {
        if (!path.endsWith(".dcm")) continue;
        const name = basename(path);
        sources.push({ label: `pydicom/${name}`, source: path, malformed: PYDICOM_MALFORMED.has(name) });
      }
    } else absent.push(`Debian python3-pydicom's test files ${PYDICOM} (apt-get install python3-pydicom)`);
    if (sources.length === 0) return;

    // The same bytes in both corpora are sent once.
    const seen = new Set<string>();
    const copies = join(work, "in");
    await mkdir(copies);
    for (const [index, s] of sources.entries()) {
      const bytes = await readFile(s.source);
      const hash = createHash("sha256").update(bytes).digest("hex");
      if (seen.has(hash)) continue;
      seen.add(hash);
      const path = join(copies, `${index}-${basename(s.source)}`);
      await copyFile(s.source, path);
      items.push({
        ...s,
        path,
        relabelled: false,
        transferSyntax: metaTransferSyntax(bytes),
        sopInstanceUid: undefined,
      });
    }
    await pool(items, 8, async (item) => {
      item.sopInstanceUid = await sopInstanceUidOf(item.path);
    });
    // Variants of one image (MR_small in six syntaxes) share their UIDs; a second instance with the
    // same SOP Instance UID would replace the first, so every later variant gets fresh UIDs (dcmodify,
    // which keeps the transfer syntax). The reference for the comparison is then the relabelled file.
    const owners = new Set<string>();
    // Valid files claim their UIDs first; a malformed variant of a valid file (reportsi and
    // reportsi_with_empty_number_tags) must not replace it either.
    for (const item of [...items.filter((i) => !i.malformed), ...items.filter((i) => i.malformed)]) {
      if (!item.sopInstanceUid) continue;
      if (!owners.has(item.sopInstanceUid)) {
        owners.add(item.sopInstanceUid);
        continue;
      }
      const fresh = uid();
      await run("dcmodify", ["-nb", "-i", `(0008,0018)=${fresh}`, "-i", `(0020,000d)=${uid()}`, item.path], {
        timeout: 10_000,
      });
      item.sopInstanceUid = fresh;
      item.relabelled = true;
    }

    // The reference receiver: DCMTK's own storescp gets every file too, over the same negotiation.
    // What storescu sends is not the file's bytes (it re-encodes lengths, drops group lengths), so
    // "arrived exactly as sent" means: the county's dataset equals what storescp received.
    referenceDir = join(work, "reference");
    await mkdir(referenceDir);
    referencePort = await freePort();
    reference = spawn(
      "storescp",
      ["+B", "+xa", "-od", referenceDir, "-aet", "REFERENCE", String(referencePort)],
      {
        stdio: "ignore",
      },
    );
    await eventually(
      () =>
        run("echoscu", ["-aec", "REFERENCE", "127.0.0.1", String(referencePort)], { timeout: 5_000 }).then(
          () => true,
        ),
      10_000,
      "storescp listening",
    );

    rc = await startReadingCentre(join(work, "rc"));
    // A long quiet period: files of one study sent on parallel associations stay one study.
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 2_000, box);
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();

    const port = String(gateway.port("dicom"));
    await pool(items, 6, async (item) => {
      try {
        const { stderr, stdout } = await run(
          "storescu",
          [
            "-aec",
            "DXGATE",
            "-aet",
            "CORPUS",
            ...proposeOption(item.transferSyntax),
            "127.0.0.1",
            port,
            item.path,
          ],
          { timeout: 60_000 },
        );
        // storescu exits 0 even after some refusals; a failed store prints an E: line.
        const errors = `${stdout}${stderr}`.split("\n").filter((l) => /^E:|^F:/.test(l));
        item.outcome = { sent: errors.length === 0, message: errors.join(" | ") };
        if (item.outcome.sent && !item.malformed) {
          await run(
            "storescu",
            [
              "-aec",
              "REFERENCE",
              ...proposeOption(item.transferSyntax),
              "127.0.0.1",
              String(referencePort),
              item.path,
            ],
            { timeout: 60_000 },
          ).catch(() => undefined);
        }
      } catch (error) {
        const e = error as { stderr?: string; stdout?: string; message: string };
        const text = `${e.stdout ?? ""}${e.stderr ?? ""}`.split("\n").filter((l) => /^[EFW]:/.test(l));
        item.outcome = { sent: false, message: text.join(" | ") || e.message };
      }
    });
  });

  after(async () => {
    reference?.kill();
    await gateway?.stop();
    await rc?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("corpora present", (t) => {
    for (const what of absent) t.diagnostic(`SKIPPED PART: ${what} is absent`);
    if (items.length === 0)
      t.skip(`CORPUS ABSENT: neither ${SHARED} nor ${PYDICOM} exists; nothing was sent`);
    else if (absent.length > 0) t.skip(`CORPUS PARTLY ABSENT: ${absent.join("; ")}`);
  });

  // Regressions found by this test: US-PAL-8-10x-echo and ExplVR_BigEnd.dcm (old-style StudyDate
  // "1998.01.01") were acknowledged by the gateway and never left it (study-descriptor.test.ts).
  test("every valid file arrives at the county exactly as DCMTK sent it", async (t) => {
    if (items.length === 0) return t.skip("CORPUS ABSENT (see above)");
    const valid = items.filter((i) => !i.malformed);
    const cannot: string[] = [];
    const sent = valid.filter((item) => {
      if (item.outcome?.sent) {
        assert.ok(
          !(item.label in STORESCU_CANNOT_SEND),
          `${item.label} now goes through: take it off the list`,
        );
        return true;
      }
      // pydicom ships some files DCMTK cannot parse (its tests use them for pydicom's own quirks):
      // storescu refuses them before any association, so the gateway never sees them. Listed.
      const unreadable =
        item.label.startsWith("pydicom/") &&
        /missing SOP class|Bad DICOM file|No SOP Class/.test(item.outcome?.message ?? "");
      const known =
        STORESCU_CANNOT_SEND[item.label] ?? (unreadable ? "DCMTK cannot read this file" : undefined);
      cannot.push(`${item.label}: ${known ?? "UNEXPECTED"} (storescu: ${item.outcome?.message})`);
      assert.ok(known, `${item.label} was not stored: ${item.outcome?.message}`);
      return false;
    });
    for (const line of cannot) t.diagnostic(`not sendable: ${line}`);
    await assertArrivedIdentical(sent, referenceDir, county);
    t.diagnostic(
      `${sent.length} valid files arrived identical (${sent.filter((i) => i.relabelled).length} relabelled)`,
    );
  });

  test("every malformed file is refused without harm, or is well-framed and arrives as sent", async (t) => {
    if (items.length === 0) return t.skip("CORPUS ABSENT (see above)");
    const malformed = items.filter((i) => i.malformed);
    for (const item of malformed)
      t.diagnostic(
        `${item.label}: ${item.outcome?.sent ? "accepted (well-framed)" : `refused: ${item.outcome?.message}`}`,
      );
    // storescu repairs what it sends of these (a dataset without meta goes in the negotiated syntax,
    // reportsi_with_empty_number_tags has its empty values re-encoded), so "as sent" cannot be
    // compared with the file: each accepted one must be at the county, stored whole.
    await pool(
      malformed.filter((i) => i.outcome?.sent),
      4,
      async (item) => {
        const res = await eventually(
          async () => {
            const r = await county.get(`/api/instances/${item.sopInstanceUid}`);
            return r.status === 200 ? r : undefined;
          },
          60_000,
          `${item.label} at the county`,
        );
        assert.ok(datasetOf(Buffer.from(await res.arrayBuffer())).length > 0, item.label);
      },
    );
    // A refused instance leaves nothing in the spool.
    const spooled = await spooledSopInstanceUids(join(work, "gw", "spool", "studies"));
    for (const item of malformed.filter((i) => !i.outcome?.sent && i.sopInstanceUid))
      assert.ok(!spooled.has(item.sopInstanceUid as string), `${item.label} was refused but is in the spool`);
  });

  test("afterwards the gateway serves echoscu and has no staging files left", async (t) => {
    if (!gateway) return t.skip("CORPUS ABSENT (see above)");
    await run("echoscu", ["-aec", "DXGATE", "-aet", "CORPUS", "127.0.0.1", String(gateway.port("dicom"))], {
      timeout: 10_000,
    });
    assert.equal(gateway.child.exitCode, null, "the gateway is still running");
    assert.deepEqual(await readdir(join(work, "gw", "spool", "staging")), [], "staging must be empty");
  });
});

async function spooledSopInstanceUids(studiesDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  if (!existsSync(studiesDir)) return found;
  for (const study of await readdir(studiesDir))
    for (const name of await readdir(join(studiesDir, study)))
      if (name.endsWith(".dcm")) found.add(name.slice(0, -".dcm".length));
  return found;
}

/**
 * The reference for "identical" is what DCMTK's storescp received from the same storescu
 * negotiation (storescu re-encodes as it sends, see chain.test.ts): the county's dataset bytes must
 * equal storescp's, in the same transfer syntax.
 */
async function assertArrivedIdentical(
  sent: Item[],
  referenceDir: string,
  county: ReadingCentreClient,
): Promise<void> {
  const problems: string[] = [];
  const referenceFiles = await readdir(referenceDir);
  await pool(sent, 6, async (item) => {
    const sop = item.sopInstanceUid;
    if (!sop) return void problems.push(`${item.label}: no SOP Instance UID`);
    const fetched = await eventually(
      async () => {
        const res = await county.get(`/api/instances/${sop}`);
        return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
      },
      20_000,
      `${item.label} at the county`,
    ).catch((error: Error) => void problems.push(`${item.label}: ${error.message}`));
    if (!fetched) return;
    const name = referenceFiles.find((f) => f.endsWith(`.${sop}`));
    if (!name) return void problems.push(`${item.label}: the reference storescp did not store it`);
    const expected = await readFile(join(referenceDir, name));
    const [got, want] = [metaTransferSyntax(fetched), metaTransferSyntax(expected)];
    if (got === want) {
      if (!datasetOf(fetched).equals(datasetOf(expected)))
        problems.push(`${item.label}: dataset bytes differ from what storescp received`);
      return;
    }
    // storescu proposes implicit and explicit VR in separate contexts and may pick a different
    // accepted one per receiver; the content must still be the same, element by element.
    if (!UNCOMPRESSED.has(got ?? "") || !UNCOMPRESSED.has(want ?? "")) {
      return void problems.push(`${item.label}: arrived in ${got}, storescp received ${want}`);
    }
    const fetchedPath = join(referenceDir, `fetched-${sop}`);
    await writeFile(fetchedPath, fetched);
    const [a, b] = await Promise.all([datasetDump(fetchedPath), datasetDump(join(referenceDir, name))]);
    if (a !== b)
      problems.push(`${item.label}: content differs from what storescp received (${got} vs ${want})`);
  });
  assert.deepEqual(problems, [], "every file sent must arrive identical");
}

const UNCOMPRESSED = new Set(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]);

/** dcmdump of the dataset alone (no file meta, no lengths): equal for equal content in any LE syntax. */
async function datasetDump(path: string): Promise<string> {
  const { stdout } = await run("dcmdump", ["-q", "+L", path], {
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return (
    stdout
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#") && !line.startsWith("(0002,"))
      // Sequence and item lengths differ between implicit and explicit VR; values do not.
      .map((line) => line.replace(/\s+#.*$/, ""))
      .join("\n")
  );
}

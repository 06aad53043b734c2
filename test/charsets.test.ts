/**
 * Chinese character sets end to end: datasets written by a real tool (DCMTK dump2dcm, from text dumps
 * whose bytes are produced by glibc iconv or written by hand for the ISO 2022 escapes), sent with
 * storescu through a real gateway to a real reading centre. The patient's name, ID, sex and age must
 * read right in the gateway API and in the county's worklist, and the instance the county holds must
 * carry exactly the bytes that were sent: text is decoded for display, never re-encoded.
 * All cases share one stack, one storescu association, to keep the suite quick.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { datasetOf } from "./support/dicom-bytes.ts";
import { eventually, type RunningProcess } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  run,
  startGateway,
  startReadingCentre,
  storescu,
  type WorklistEntry,
} from "./support/stack.ts";

/** Text in another encoding, by glibc iconv (Node has no GB 18030 / GBK encoder). */
function encode(text: string, encoding: string): Buffer {
  return execFileSync("iconv", ["-f", "UTF-8", "-t", encoding], { input: text });
}
const ascii = (text: string) => Buffer.from(text, "latin1");
const ESC_G1_GB2312 = ascii("\x1b$)A"); // ISO 2022 IR 58 into G1 (PS3.5 Annex J)
const ESC_G0_ASCII = ascii("\x1b(B"); // ISO 2022 IR 6 into G0

interface Case {
  label: string;
  /** (0008,0005) as written in the dump; undefined = no element at all. */
  characterSet: string | undefined;
  name: Buffer;
  id: Buffer;
  sex: string;
  age: string;
  expected: { name: string; id: string };
}

const CASES: Case[] = [
  {
    label: "UTF-8 (ISO_IR 192), three component groups",
    characterSet: "ISO_IR 192",
    name: Buffer.from("Zhang^San=张^三=zhang^san"),
    id: Buffer.from("门诊-0001"),
    sex: "M",
    age: "035Y",
    expected: { name: "Zhang^San=张^三=zhang^san", id: "门诊-0001" },
  },
  {
    label: "GB18030",
    characterSet: "GB18030",
    name: encode("王小明", "GB18030"),
    id: encode("住院0042", "GB18030"),
    sex: "M",
    age: "008Y",
    expected: { name: "王小明", id: "住院0042" },
  },
  {
    label: "GBK with a GBK-extension character (镕, trail byte in ASCII range)",
    characterSet: "GBK",
    name: encode("朱^镕基", "GBK"),
    id: ascii("GBK-7"),
    sex: "M",
    age: "070Y",
    expected: { name: "朱^镕基", id: "GBK-7" },
  },
  {
    label: "ISO 2022 IR 58 (GB 2312 by escapes, PS3.5 Annex J), per component group",
    characterSet: "\\ISO 2022 IR 58",
    name: Buffer.concat([
      ascii("Zhang^XiaoDong="),
      ESC_G1_GB2312,
      encode("张", "GB2312"),
      ascii("^"),
      ESC_G1_GB2312,
      encode("小东", "GB2312"),
      ascii("="),
    ]),
    id: Buffer.concat([ESC_G1_GB2312, encode("门诊", "GB2312"), ESC_G0_ASCII, ascii("0043")]),
    sex: "F",
    age: "041Y",
    expected: { name: "Zhang^XiaoDong=张^小东", id: "门诊0043" },
  },
  {
    label: "ISO 2022 IR 6 with ISO 2022 IR 58, one escape for the whole name (lenient reading)",
    characterSet: "ISO 2022 IR 6\\ISO 2022 IR 58",
    name: Buffer.concat([ESC_G1_GB2312, encode("李^娜", "GB2312")]),
    id: ascii("IR58-2"),
    sex: "F",
    age: "029Y",
    expected: { name: "李^娜", id: "IR58-2" },
  },
  {
    label: "Latin-1 (ISO_IR 100) that really is Latin-1",
    characterSet: "ISO_IR 100",
    name: encode("Müller^Jörg", "ISO-8859-1"),
    id: ascii("L1-1"),
    sex: "M",
    age: "052Y",
    expected: { name: "Müller^Jörg", id: "L1-1" },
  },
  {
    label: "GBK declared as Latin-1 (ISO_IR 100), as some Chinese modalities send",
    characterSet: "ISO_IR 100",
    name: encode("刘^德华", "GBK"),
    id: ascii("L1-GBK"),
    sex: "M",
    age: "061Y",
    expected: { name: "刘^德华", id: "L1-GBK" },
  },
  {
    label: "GBK with no Specific Character Set",
    characterSet: undefined,
    name: encode("陈^静", "GBK"),
    id: encode("门诊0044", "GBK"),
    sex: "F",
    age: "033Y",
    expected: { name: "陈^静", id: "门诊0044" },
  },
];

const uid = () => `2.25.${BigInt(`0x${randomBytes(15).toString("hex")}`)}`;

interface Built {
  case: Case;
  studyInstanceUid: string;
  sopInstanceUid: string;
  path: string;
  bytes: Buffer;
}

/** A dump2dcm text dump; values are raw bytes, so the dump is a Buffer, not a string. */
async function build(dir: string, c: Case, index: number): Promise<Built> {
  const studyInstanceUid = uid();
  const sopInstanceUid = uid();
  const line = (tagVr: string, value: Buffer | string) =>
    Buffer.concat([ascii(`${tagVr} [`), typeof value === "string" ? ascii(value) : value, ascii("]\n")]);
  const dump = Buffer.concat([
    ...(c.characterSet === undefined ? [] : [line("(0008,0005) CS", c.characterSet)]),
    ascii("(0008,0016) UI =UltrasoundImageStorage\n"),
    line("(0008,0018) UI", sopInstanceUid),
    line("(0008,0020) DA", "20261125"),
    line("(0008,0060) CS", "US"),
    line("(0010,0010) PN", c.name),
    line("(0010,0020) LO", c.id),
    line("(0010,0040) CS", c.sex),
    line("(0010,1010) AS", c.age),
    line("(0020,000d) UI", studyInstanceUid),
    line("(0020,000e) UI", uid()),
    ascii("(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 2\n(0028,0011) US 2\n"),
    ascii("(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n"),
    ascii("(7fe0,0010) OB 00\\40\\80\\ff\n"),
  ]);
  const dumpPath = join(dir, `case-${index}.dump`);
  const path = join(dir, `case-${index}.dcm`);
  await writeFile(dumpPath, dump);
  await run("dump2dcm", ["+te", dumpPath, path], { timeout: 10_000 });
  // storescu re-encodes what it sends; the file as DCMTK writes it is the reference (chain.test.ts).
  await run("dcmconv", [path, path], { timeout: 10_000 });
  return { case: c, studyInstanceUid, sopInstanceUid, path, bytes: await readFile(path) };
}

interface Patient {
  id: string;
  name: string;
  sex: string;
  age: string;
}

describe("Chinese character sets end to end", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;
  let built: Built[];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-charsets-"));
    await mkdir(join(work, "in"));
    built = await Promise.all(CASES.map((c, index) => build(join(work, "in"), c, index)));
    rc = await startReadingCentre(join(work, "rc"));
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, box);
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
    await storescu(
      gateway.port("dicom"),
      built.map((b) => b.path),
    );
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("dump2dcm kept the raw bytes (the test would prove nothing otherwise)", () => {
    for (const b of built) {
      assert.ok(b.bytes.includes(b.case.name), `${b.case.label}: name bytes in the file`);
      assert.ok(b.bytes.includes(b.case.id), `${b.case.label}: id bytes in the file`);
    }
  });

  test("the gateway API shows each patient's name, ID, sex and age decoded", async () => {
    const api = `http://127.0.0.1:${gateway.port("http")}/api/studies`;
    const studies = await eventually(
      async () => {
        const list = (await (await fetch(api)).json()) as Array<{
          studyInstanceUid: string;
          patient: Patient;
        }>;
        return list.length >= built.length ? list : undefined;
      },
      15_000,
      "every study in the gateway API",
    );
    for (const b of built) {
      const study = studies.find((s) => s.studyInstanceUid === b.studyInstanceUid);
      assert.ok(study, `${b.case.label}: study listed`);
      assert.deepEqual(
        { name: study.patient.name, id: study.patient.id, sex: study.patient.sex, age: study.patient.age },
        { ...b.case.expected, sex: b.case.sex, age: b.case.age },
        b.case.label,
      );
    }
  });

  test("the county worklist shows the same, and holds exactly the bytes that were sent", async () => {
    const worklist = await eventually(
      async () => {
        const list = await county.json<Array<WorklistEntry & { patient: Patient }>>("/api/worklist");
        const mine = built.map((b) => list.find((e) => e.studyInstanceUid === b.studyInstanceUid));
        return mine.every((e) => e !== undefined) ? mine : undefined;
      },
      30_000,
      "every study in the county worklist",
    );
    for (const [index, b] of built.entries()) {
      const entry = worklist[index];
      assert.ok(entry);
      assert.deepEqual(
        { name: entry.patient.name, id: entry.patient.id, sex: entry.patient.sex, age: entry.patient.age },
        { ...b.case.expected, sex: b.case.sex, age: b.case.age },
        b.case.label,
      );
      const res = await county.get(`/api/instances/${b.sopInstanceUid}`);
      assert.equal(res.status, 200, b.case.label);
      const fetched = Buffer.from(await res.arrayBuffer());
      assert.ok(datasetOf(fetched).equals(datasetOf(b.bytes)), `${b.case.label}: dataset bytes identical`);
      assert.ok(fetched.includes(b.case.name), `${b.case.label}: name bytes as sent, not re-encoded`);
    }
  });

  test("no log line of either process carries a patient's name or ID", () => {
    const everything = [...rc.output, ...gateway.output].join("\n");
    for (const b of built) {
      for (const part of [...b.case.expected.name.split(/[\^=]/), b.case.expected.id]) {
        if (part.length >= 2) assert.ok(!everything.includes(part), `${b.case.label}: "${part}" in logs`);
      }
    }
  });
});

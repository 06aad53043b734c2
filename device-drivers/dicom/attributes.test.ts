import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeDicomFile } from "../../test/fixtures/make-dicom.ts";
import { readInstanceAttributes } from "./attributes.ts";
import { MalformedDatasetError } from "./dataset-scanner.ts";
import { datasetOffset } from "./part10.ts";
import { runTool } from "./test-support.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dxgate-attributes-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function written(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

const options = {
  patientName: "Doe^John^^^",
  patientId: "ID-7",
  patientSex: "F",
  patientBirthDate: "19700203",
  patientAge: "054Y",
  studyDate: "20250102",
  studyTime: "101500",
  studyDescription: "Obstetric ",
  accessionNumber: "A1",
  modality: "US",
};

test("attributes are decoded and trimmed, in explicit and implicit VR", async () => {
  for (const transferSyntax of ["explicit", "implicit"] as const) {
    const file = makeDicomFile({ ...options, transferSyntax });
    const attributes = await readInstanceAttributes(await written(`${transferSyntax}.dcm`, file.bytes));
    assert.deepEqual(attributes, {
      studyInstanceUid: file.studyInstanceUid,
      seriesInstanceUid: file.seriesInstanceUid,
      sopInstanceUid: file.sopInstanceUid,
      sopClassUid: file.sopClassUid,
      transferSyntaxUid: file.transferSyntaxUid,
      modality: "US",
      patientId: "ID-7",
      patientName: "Doe^John",
      patientSex: "F",
      patientBirthDate: "19700203",
      patientAge: "054Y",
      studyDate: "20250102",
      studyTime: "101500",
      studyDescription: "Obstetric",
      accessionNumber: "A1",
    });
  }
});

test("absent attributes are empty strings; person names keep their ideographic group", async () => {
  const file = makeDicomFile({ patientName: "Zhang^San=张^三=", specificCharacterSet: "ISO_IR 192" });
  const attributes = await readInstanceAttributes(await written("utf8.dcm", file.bytes));
  assert.equal(attributes.patientName, "Zhang^San=张^三");
  assert.equal(attributes.patientAge, "");
  assert.equal(attributes.accessionNumber, "");
});

test("big endian, deflated and encapsulated (JPEG, RLE) datasets are read", async () => {
  const source = await written(
    "source.dcm",
    makeDicomFile({ ...options, rows: 20, columns: 10, frames: 3 }).bytes,
  );
  for (const [tool, args, transferSyntaxUid] of [
    ["dcmconv", ["+tb"], "1.2.840.10008.1.2.2"],
    ["dcmconv", ["+td"], "1.2.840.10008.1.2.1.99"],
    ["dcmcjpeg", ["+e1"], "1.2.840.10008.1.2.4.70"],
    ["dcmcrle", [], "1.2.840.10008.1.2.5"],
  ] as const) {
    const target = join(dir, `${tool}-${transferSyntaxUid}.dcm`);
    const conversion = await runTool(tool, [...args, source, target]);
    assert.equal(conversion.code, 0, conversion.stderr);
    const attributes = await readInstanceAttributes(target);
    assert.equal(attributes.transferSyntaxUid, transferSyntaxUid);
    assert.equal(attributes.patientName, "Doe^John", transferSyntaxUid);
    assert.equal(attributes.studyTime, "101500", transferSyntaxUid);
  }
});

test("a truncated dataset is malformed, wherever it is cut", async () => {
  const file = makeDicomFile({ rows: 8, columns: 8 });
  const start = datasetOffset(file.bytes);
  const sequenceAt = Buffer.from(file.bytes).indexOf(Buffer.from([0x08, 0x00, 0x10, 0x11])); // (0008,1110)
  for (const cut of [file.bytes.length - 1, file.bytes.length - 40, sequenceAt + 30, start + 3]) {
    const path = await written(`cut-${cut}.dcm`, file.bytes.subarray(0, cut));
    await assert.rejects(readInstanceAttributes(path), MalformedDatasetError, `cut at ${cut}`);
  }
});

test("a file that is not Part 10 is malformed", async () => {
  const path = await written(
    "not-dicom.dcm",
    new TextEncoder().encode("just some text, not DICOM at all".repeat(10)),
  );
  await assert.rejects(readInstanceAttributes(path), MalformedDatasetError);
});

test("with the file's start known, the attributes are the same; a truncated file is still refused", async () => {
  for (const transferSyntax of ["explicit", "implicit"] as const) {
    const file = makeDicomFile({ ...options, transferSyntax, rows: 64, columns: 64 });
    const path = await written(`known-${transferSyntax}.dcm`, file.bytes);
    const expected = await readInstanceAttributes(path);
    for (const headLength of [0, 200, 1024, file.bytes.length]) {
      const head = file.bytes.slice(0, headLength);
      assert.deepEqual(
        await readInstanceAttributes(path, { head, size: file.bytes.length }),
        expected,
        `${transferSyntax}, head ${headLength}`,
      );
    }
  }
  // The writer's count says more bytes than the dataset holds: the scan must notice the end.
  const file = makeDicomFile({ ...options, rows: 16, columns: 16 });
  const cut = file.bytes.length - 100;
  const path = await written("known-cut.dcm", file.bytes.subarray(0, cut));
  await assert.rejects(
    readInstanceAttributes(path, { head: file.bytes.subarray(0, cut), size: cut }),
    MalformedDatasetError,
  );
});

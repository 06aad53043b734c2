import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { makeDicomFile } from "../../test/fixtures/make-dicom.ts";
import { IMPLEMENTATION_CLASS_UID } from "./constants.ts";
import { buildPart10Header, datasetOffset } from "./part10.ts";
import { runTool } from "./test-support.ts";

const meta = {
  sopClassUid: "1.2.840.10008.5.1.4.1.1.6.1",
  sopInstanceUid: "1.2.3.4.5", // odd length: padded with one NUL (PS3.5 6.2, UI)
  transferSyntaxUid: "1.2.840.10008.1.2.1",
  sourceAeTitle: "US_ROOM_2",
};

test("the header is preamble, DICM and a group 0002 whose length is right", () => {
  const header = buildPart10Header(meta);
  assert.deepEqual(header.subarray(0, 128), new Uint8Array(128));
  assert.equal(Buffer.from(header.subarray(128, 132)).toString("latin1"), "DICM");
  assert.equal(datasetOffset(header), header.length, "the dataset starts right after the header");
  assert.equal(header.length % 2, 0);
  const text = Buffer.from(header).toString("latin1");
  assert.ok(text.includes("1.2.3.4.5\0"), "odd UID padded with NUL");
  assert.ok(text.includes("US_ROOM_2 "), "odd AE title padded with a space");
  assert.ok(text.includes(IMPLEMENTATION_CLASS_UID));
  assert.ok(text.includes("DXGATE_010"));
});

test("header + a dataset's bytes make a file DCMTK reads, with our file meta", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-part10-"));
  try {
    const source = makeDicomFile({ patientName: "Part^Ten" });
    const dataset = source.bytes.subarray(datasetOffset(source.bytes));
    const header = buildPart10Header({ ...meta, sopInstanceUid: source.sopInstanceUid });
    const path = join(dir, "built.dcm");
    await writeFile(path, Buffer.concat([header, dataset]));
    const dump = await runTool("dcmdump", ["+L", path]);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /\(0002,0000\) UL \d+/);
    assert.match(dump.stdout, /\(0002,0001\) OB 00\\01/);
    assert.match(dump.stdout, /\(0002,0002\) UI =UltrasoundImageStorage/);
    assert.match(dump.stdout, new RegExp(`\\(0002,0003\\) UI \\[${source.sopInstanceUid}\\]`));
    assert.match(dump.stdout, /\(0002,0010\) UI =LittleEndianExplicit/);
    assert.match(dump.stdout, /\(0002,0013\) SH \[DXGATE_010\]/);
    assert.match(dump.stdout, /\(0002,0016\) AE \[US_ROOM_2\]/);
    assert.match(dump.stdout, /\(0010,0010\) PN \[Part\^Ten\]/);
    assert.doesNotMatch(dump.stderr, /W:|E:/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a source AE title that is not a valid AE value is left out", () => {
  for (const sourceAeTitle of ["", "   ", "WAY_TOO_LONG_AE_TITLE", "BACK\\SLASH"]) {
    const text = Buffer.from(buildPart10Header({ ...meta, sourceAeTitle })).toString("latin1");
    assert.ok(!text.includes("\x02\x00\x16\x00AE"), `no (0002,0016) for ${JSON.stringify(sourceAeTitle)}`);
  }
});

test("datasetOffset refuses bytes that are not a Part 10 file", () => {
  assert.throws(() => datasetOffset(new Uint8Array(10)), /too short/);
  assert.throws(() => datasetOffset(new Uint8Array(200)), /no DICM prefix/);
});

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { encodeScpEcg } from "../scp-ecg/index.ts";
import { generateSyntheticEcg } from "../stream/index.ts";
import { decodeEcgFile, detectEcgFile, ECG_FILE_HEAD_BYTES } from "./ecg-files.ts";

const SHARED = join(import.meta.dirname, "..", "..", "..", "..", "shared", "data");
const SHARED_SKIP = existsSync(SHARED)
  ? false
  : `../shared/data is absent (${SHARED}): the real ECG files are NOT checked here`;

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));

test("SCP-ECG is told by its section 0 marker, or by a .scp name; XML exports by their root element", () => {
  const scp = encodeScpEcg(generateSyntheticEcg({ seconds: 1, patient: { id: "X1" } }));
  assert.equal(detectEcgFile(scp.subarray(0, ECG_FILE_HEAD_BYTES), "ECG0001.DAT"), "scp-ecg");
  assert.equal(detectEcgFile(utf8("not really"), "broken.SCP"), "scp-ecg");
  assert.equal(
    detectEcgFile(utf8('<?xml version="1.0"?>\n<!-- x --><AnnotatedECG xmlns="urn:hl7-org:v3"/>'), "a.xml"),
    "hl7-aecg",
  );
  assert.equal(detectEcgFile(utf8("<restingecgdata/>"), "b.XML"), "philips-xml");
  assert.equal(
    detectEcgFile(utf8('<?xml version="1.0" encoding="ISO-8859-1"?><RestingECG/>'), "c.xml"),
    "ge-muse-xml",
  );
  assert.equal(detectEcgFile(utf8('<?xml version="1.0"?><html/>'), "index.xml"), undefined);
  assert.equal(detectEcgFile(utf8("README: plug the cart in"), "README.TXT"), undefined);
  assert.equal(detectEcgFile(new Uint8Array(0), "empty"), undefined);
});

test("a generated SCP-ECG file decodes to its record", () => {
  const record = generateSyntheticEcg({ seconds: 2, patient: { id: "X2", name: "Zhao^Liu" } });
  const decoded = decodeEcgFile(encodeScpEcg(record), "scp-ecg");
  assert.equal(decoded.patient.id, "X2");
  assert.equal(decoded.rhythm.leads[0]!.samples.length, record.rhythm.leads[0]!.samples.length);
});

test("a file that is not what its name says fails with the decoder's code", () => {
  assert.throws(
    () => decodeEcgFile(utf8("not an SCP-ECG record at all, just text"), "scp-ecg"),
    (error: unknown) => typeof (error as { code?: unknown }).code === "string",
  );
});

test("every real ECG export in ../shared/data is recognised as the format it is", {
  skip: SHARED_SKIP,
}, async () => {
  const expected: Record<string, string | undefined> = {
    "Example.scp": "scp-ecg",
    "62.SCP": "scp-ecg",
    "0000050.ECG.scp": "scp-ecg",
    "hl7aecg_Example_aECG.xml": "hl7-aecg",
    "hl7aecg_minimum_aecg.xml": "hl7-aecg",
    "hl7aecg_empty.xml": "hl7-aecg",
    "philips_129DYPRG.XML": "philips-xml",
    "philips_2020-5-18_15-48-11.xml": "philips-xml",
    "gemuse_example1.xml": "ge-muse-xml",
    "gemuse_example2.xml": "ge-muse-xml",
  };
  for (const dir of ["ecg-scp", "ecg-xml"]) {
    for (const name of await readdir(join(SHARED, dir))) {
      const head = (await readFile(join(SHARED, dir, name))).subarray(0, ECG_FILE_HEAD_BYTES);
      assert.equal(detectEcgFile(head, name), expected[name], name);
    }
  }
  const dicom = await readFile(join(SHARED, "ecg-dicom", "waveform_ecg.dcm"));
  assert.equal(detectEcgFile(dicom.subarray(0, ECG_FILE_HEAD_BYTES), "waveform_ecg.dcm"), undefined);
});

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { waveformSeconds } from "../ecg-record.ts";
import {
  decodeEcgXml,
  decodeGeMuseXml,
  decodeHl7Aecg,
  detectEcgXmlDialect,
  EcgXmlError,
  MAX_XML_BYTES,
} from "./index.ts";
import {
  aecgDocument,
  concatBytes,
  museDocument,
  philipsDocument,
  SHARED_ECG_XML,
  SHARED_SKIP,
  synthetic12,
  utf8,
  utf16leWithBom,
} from "./xml-test-support.ts";

const leads = synthetic12(500, 500);
const aecg = aecgDocument({ rhythm: [{ name: "II", digits: leads.get("II") as Int32Array }] });
const muse = museDocument({ rhythm: new Map([...leads].filter(([name]) => ["I", "II"].includes(name))) });
const philips = philipsDocument({
  parsedwaveforms: `<parsedwaveforms dataencoding="Plain" numberofleads="1" leadlabels="II" durationperchannel="1000" samplespersecond="500" resolution="5">${(leads.get("II") as Int32Array).join(" ")}</parsedwaveforms>`,
});

test("the dialect is chosen by the root element", () => {
  assert.equal(decodeEcgXml(utf8(aecg)).source.format, "hl7-aecg");
  assert.equal(decodeEcgXml(new Uint8Array(Buffer.from(muse, "latin1"))).source.format, "ge-muse-xml");
  assert.equal(decodeEcgXml(utf16leWithBom(philips)).source.format, "philips-xml");
});

test("other XML is ECG_XML_UNKNOWN_DIALECT, naming the root but nothing else", () => {
  const other = utf8(
    '<?xml version="1.0"?><ClinicalDocument><patient>Secret Name</patient></ClinicalDocument>',
  );
  assert.throws(
    () => decodeEcgXml(other),
    (error: unknown) => {
      assert.ok(error instanceof EcgXmlError);
      assert.equal(error.code, "ECG_XML_UNKNOWN_DIALECT");
      assert.equal(error.httpStatus, 422);
      assert.match(error.message, /<ClinicalDocument>/);
      assert.doesNotMatch(error.message, /Secret/);
      return true;
    },
  );
  // A dialect-specific decoder refuses the others' files.
  assert.throws(() => decodeGeMuseXml(utf8(aecg)), { code: "ECG_XML_UNKNOWN_DIALECT" });
  assert.throws(() => decodeEcgXml(utf8("not xml at all")), { code: "ECG_XML_MALFORMED" });
});

test("a MUSE export from a Chinese cart in GB2312 keeps the patient's name", () => {
  const [head, tail] = muse.replace('encoding="ISO-8859-1"', 'encoding="GB2312"').split("Müller");
  const bytes = concatBytes([
    new Uint8Array(Buffer.from(head ?? "", "latin1")),
    Uint8Array.of(0xd5, 0xc5), // 张
    new Uint8Array(Buffer.from(tail ?? "", "latin1")),
  ]);
  assert.equal(decodeEcgXml(bytes).patient.name, "张^Anna");
});

test("decoders also take text that is already decoded", () => {
  assert.equal(decodeHl7Aecg(`\uFEFF${aecg}`).rhythm.leads[0]?.name, "II");
});

test("text beyond the size limit is refused before parsing", () => {
  assert.throws(() => decodeHl7Aecg(" ".repeat(MAX_XML_BYTES + 1)), { code: "ECG_XML_TOO_LARGE" });
});

test("detectEcgXmlDialect looks only at the start of a file", () => {
  assert.equal(detectEcgXmlDialect(utf8(aecg)), "hl7-aecg");
  assert.equal(detectEcgXmlDialect(utf16leWithBom(philips)), "philips-xml");
  assert.equal(detectEcgXmlDialect(new Uint8Array(Buffer.from(muse, "latin1"))), "ge-muse-xml");
  assert.equal(detectEcgXmlDialect(utf8("<?xml version='1.0'?><!-- x --><svg/>")), undefined);
  assert.equal(detectEcgXmlDialect(Uint8Array.of(0x53, 0x43, 0x50, 0x00, 0x01)), undefined);
});

test("every file in ../shared/data/ecg-xml decodes, or is refused with the code it deserves", {
  skip: SHARED_SKIP,
}, () => {
  const expectedFailures: Record<string, string> = { "hl7aecg_empty.xml": "ECG_XML_NO_WAVEFORM" };
  const files = readdirSync(SHARED_ECG_XML).filter((name) => name.toLowerCase().endsWith(".xml"));
  assert.ok(files.length >= 7, `found ${files.length} files`);
  for (const file of files) {
    const bytes = readFileSync(join(SHARED_ECG_XML, file));
    const dialect = detectEcgXmlDialect(bytes);
    assert.ok(dialect, `${file}: dialect detected`);
    const expected = expectedFailures[file];
    if (expected) {
      assert.throws(() => decodeEcgXml(bytes), { code: expected }, file);
      continue;
    }
    const record = decodeEcgXml(bytes);
    assert.equal(record.source.format, dialect, file);
    assert.ok(record.rhythm.leads.length >= 1, file);
    for (const lead of record.rhythm.leads) {
      assert.equal(lead.samples.length, record.rhythm.leads[0]?.samples.length, `${file} ${lead.name}`);
      assert.ok(lead.nanovoltsPerUnit > 0, `${file} ${lead.name}`);
    }
    if (file !== "hl7aecg_minimum_aecg.xml") {
      assert.equal(record.rhythm.leads.length, 12, file);
      assert.ok(waveformSeconds(record.rhythm) >= 10, `${file}: at least 10 s`);
      assert.ok(record.medianBeats || file.endsWith("129DYPRG.XML"), `${file}: median beats`);
    }
  }
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteWindow, ByteWriter } from "./bytes.ts";
import { readSection1, TAG } from "./section1.ts";

type Field = [tag: number, value: Uint8Array | number[] | string];

/** A section 1 body from fields (strings as Latin-1/ASCII bytes plus the terminating zero). */
function section1(fields: Field[], terminate = true): ByteWindow {
  const writer = new ByteWriter();
  for (const [tag, value] of fields) {
    const bytes =
      typeof value === "string"
        ? Uint8Array.from([...value, "\0"], (c) => c.charCodeAt(0))
        : Uint8Array.from(value);
    writer.u8(tag).u16(bytes.length).bytes(bytes);
  }
  if (terminate) writer.u8(255).u16(0);
  const bytes = writer.toBytes();
  return new ByteWindow(bytes, 0, bytes.length, "section 1");
}

/** Tag 14 with a language support code, model, an empty program revision and the trailing strings (serial, system software, implementation, trade name). */
function device(
  languageCode: number,
  strings: string[] = [],
  manufacturerCode = 255,
  model = "CART1",
): number[] {
  const head = [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    manufacturerCode,
    ...[...model.padEnd(6, "\0")].map((c) => c.charCodeAt(0)),
  ];
  const tail = [20, 0xa0, languageCode, 0x08, 1, ...new Array(16).fill(0), 1, 0];
  return [...head, ...tail, ...strings.flatMap((text) => [...[...text].map((c) => c.charCodeAt(0)), 0])];
}

const ZHANG = [0xd5, 0xc5, 0]; // 张 in GB 2312
const SAN = [0xc8, 0xfd, 0]; // 三

test("GBK names from a cart that declares ASCII (code 0) are still read as Chinese", () => {
  const result = readSection1(
    section1([
      [TAG.lastName, ZHANG],
      [TAG.firstName, SAN],
      [TAG.patientId, "110"],
      [TAG.acquiringDevice, device(0)],
    ]),
  );
  assert.equal(result.patient.name, "张^三");
  assert.equal(result.languageCode, 0);
});

test("GB 2312 declared (code 0x27) decodes as GB 18030; Latin-1 text under code 1 stays Latin-1", () => {
  assert.equal(
    readSection1(
      section1([
        [TAG.lastName, ZHANG],
        [TAG.acquiringDevice, device(0x27)],
      ]),
    ).patient.name,
    "张",
  );
  const muller = [0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72, 0]; // "Müller" in Latin-1
  assert.equal(
    readSection1(
      section1([
        [TAG.lastName, muller],
        [TAG.acquiringDevice, device(1)],
      ]),
    ).patient.name,
    "Müller",
  );
});

test("names: second last name joins the family group; PN delimiters inside a name are neutralised", () => {
  const result = readSection1(
    section1([
      [TAG.lastName, "Garcia"],
      [TAG.secondLastName, "Lopez"],
      [TAG.firstName, "Ana^Maria"],
    ]),
  );
  assert.equal(result.patient.name, "Garcia Lopez^Ana Maria");
  assert.equal(result.extras.secondLastName, "Lopez");
  assert.equal(readSection1(section1([[TAG.firstName, "Solo"]])).patient.name, "^Solo");
});

test("age, height, weight with their units; sex codes other than male/female are no information", () => {
  const read = (fields: Field[]) => readSection1(section1(fields)).patient;
  assert.equal(read([[TAG.age, [45, 0, 1]]]).age, "045Y");
  assert.equal(read([[TAG.age, [18, 0, 2]]]).age, "018M");
  assert.equal(read([[TAG.age, [50, 0, 5]]]).age, "002D"); // hours → whole days
  assert.equal(read([[TAG.height, [70, 0, 2]]]).heightCm, 177.8); // inches
  assert.equal(read([[TAG.height, [0x7e, 0x06, 3]]]).heightCm, 166.2); // 1662 mm
  assert.equal(read([[TAG.weight, [154, 0, 3]]]).weightKg, 69.9); // pounds
  assert.equal(read([[TAG.weight, [0x10, 0xea, 2]]]).weightKg, 59.92); // 59920 g
  assert.equal(read([[TAG.sex, [2]]]).sex, "F");
  assert.equal(read([[TAG.sex, [9]]]).sex, undefined);
  assert.equal(read([[TAG.sex, [0]]]).sex, undefined);
  const unitless = readSection1(section1([[TAG.age, [45, 0, 0]]]));
  assert.equal(unitless.patient.age, undefined);
  assert.match(unitless.notes.join(" "), /age without a unit/);
});

test("dates and times that are not real are left out", () => {
  const read = (date: number[], time: number[]) =>
    readSection1(
      section1([
        [TAG.birthDate, date],
        [TAG.acquisitionTime, time],
      ]),
    );
  assert.equal(read([0xd0, 0x07, 2, 29], [23, 59, 59]).patient.birthDate, "20000229");
  assert.equal(read([0xd0, 0x07, 2, 29], [23, 59, 59]).acquisition.time, "235959");
  assert.equal(read([0xd1, 0x07, 2, 29], [24, 0, 0]).patient.birthDate, undefined); // 2001 is no leap year
  assert.equal(read([0xd1, 0x07, 2, 29], [24, 0, 0]).acquisition.time, undefined);
  assert.equal(read([0, 0, 0, 0], [0, 0, 0]).patient.birthDate, undefined);
});

test("acquiring device: trade name, serial, software; the code table when no name; 'unknown' is no value", () => {
  const named = readSection1(section1([[TAG.acquiringDevice, device(0, ["SN9", "5.3", "impl", "Acme"])]]));
  assert.deepEqual(named.acquisition, {
    manufacturer: "Acme",
    model: "CART1",
    deviceSerialNumber: "SN9",
    softwareVersion: "5.3",
  });
  assert.equal(named.extras.acquiringDevice?.mainsFrequencyHz, 50);
  const coded = readSection1(
    section1([[TAG.acquiringDevice, device(0, ["", "unknown", "unknown"], 8, "ELI250")]]),
  );
  assert.deepEqual(coded.acquisition, { manufacturer: "Mortara Instrument", model: "ELI250" });
});

test("filters: high-pass in 1/100 Hz, low-pass in Hz, notch from the bit map", () => {
  const result = readSection1(
    section1([
      [TAG.baselineFilter, [5, 0]],
      [TAG.lowPassFilter, [150, 0]],
      [TAG.filterBitmap, [0b10]],
    ]),
  );
  assert.equal(result.acquisition.highPassHz, 0.05);
  assert.equal(result.acquisition.lowPassHz, 150);
  assert.equal(result.acquisition.notchHz, 50);
  assert.equal(readSection1(section1([[TAG.filterBitmap, [0b01]]])).acquisition.notchHz, 60);
});

test("text fields EcgRecord has no place for are returned beside it; repeated tags all kept", () => {
  const result = readSection1(
    section1([
      [TAG.freeText, "first note"],
      [TAG.freeText, "second note"],
      [TAG.referralIndication, "chest pain"],
      [TAG.drugs, [0, 1, 2, ..."aspirin\0"].map((c) => (typeof c === "string" ? c.charCodeAt(0) : c))],
      [TAG.room, "ECG room 2"],
      [TAG.sequenceNumber, "0000050"],
      [TAG.acquiringInstitution, "Health Centre"],
      [TAG.technician, "Tech Li"],
      [220, [1, 2, 3]],
    ]),
  );
  assert.deepEqual(result.extras.freeText, ["first note", "second note"]);
  assert.deepEqual(result.extras.referralIndications, ["chest pain"]);
  assert.deepEqual(result.extras.drugs, ["aspirin"]);
  assert.equal(result.extras.room, "ECG room 2");
  assert.equal(result.extras.sequenceNumber, "0000050");
  assert.deepEqual(result.extras.manufacturerTags, [220]);
  assert.equal(result.acquisition.institution, "Health Centre");
  assert.equal(result.acquisition.operator, "Tech Li");
});

test("a tag running past the section end keeps the fields before it and says so", () => {
  const writer = new ByteWriter()
    .u8(TAG.patientId)
    .u16(3)
    .bytes(Uint8Array.of(0x41, 0x42, 0))
    .u8(TAG.lastName)
    .u16(500)
    .u8(0x41);
  const bytes = writer.toBytes();
  const result = readSection1(new ByteWindow(bytes, 0, bytes.length, "section 1"));
  assert.equal(result.patient.id, "AB");
  assert.equal(result.patient.name, undefined);
  assert.match(result.notes.join(" "), /tag 0 states 500 bytes/);
  assert.match(
    readSection1(section1([[TAG.patientId, "X"]], false)).notes.join(" "),
    /no terminating tag 255/,
  );
});

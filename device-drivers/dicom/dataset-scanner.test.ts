import assert from "node:assert/strict";
import { test } from "node:test";
import { memorySource } from "./byte-source.ts";
import { MalformedDatasetError, scanDataset } from "./dataset-scanner.ts";

const EXPLICIT_LE = { explicitVr: true, littleEndian: true };
const UNDEFINED = 0xffffffff;

/** Little endian bytes of a tag, a 16-bit and a 32-bit number. */
const tag = (group: number, element: number) => [group & 0xff, group >> 8, element & 0xff, element >> 8];
const u16 = (value: number) => [value & 0xff, value >> 8];
const u32 = (value: number) => [
  value & 0xff,
  (value >> 8) & 0xff,
  (value >> 16) & 0xff,
  (value >>> 24) & 0xff,
];
const text = (value: string) => [...value].map((character) => character.charCodeAt(0));

/** Explicit VR LE element (PS3.5 7.1.2). */
function element(
  group: number,
  number: number,
  vr: string,
  value: number[],
  length = value.length,
): number[] {
  const long = ["OB", "OW", "SQ", "UN", "UT"].includes(vr);
  return [...tag(group, number), ...text(vr), ...(long ? [0, 0, ...u32(length)] : u16(length)), ...value];
}
const item = (content: number[], length = content.length) => [
  ...tag(0xfffe, 0xe000),
  ...u32(length),
  ...content,
];
const itemEnd = [...tag(0xfffe, 0xe00d), ...u32(0)];
const sequenceEnd = [...tag(0xfffe, 0xe0dd), ...u32(0)];

async function scan(bytes: number[], wanted: number[] = []) {
  return scanDataset(memorySource(Uint8Array.from(bytes)), {
    start: 0,
    encoding: EXPLICIT_LE,
    wanted: new Set(wanted),
  });
}

test("wanted top-level values are returned, nested ones are not", async () => {
  const uid = text("1.2.3\0");
  const nested = element(0x0008, 0x0018, "UI", text("9.9\0"));
  const found = await scan(
    [
      ...element(0x0008, 0x0018, "UI", uid),
      ...element(0x0008, 0x1110, "SQ", [...item(nested, UNDEFINED), ...itemEnd, ...sequenceEnd], UNDEFINED),
      ...element(0x0008, 0x1111, "SQ", item(nested)),
    ],
    [0x00080018],
  );
  assert.equal(found.size, 1);
  assert.deepEqual(found.get(0x00080018), { vr: "UI", bytes: Uint8Array.from(uid) });
});

test("encapsulated pixel data fragments are walked to the sequence delimiter", async () => {
  const pixelData = element(
    0x7fe0,
    0x0010,
    "OB",
    [...item([]), ...item([1, 2, 3, 4]), ...sequenceEnd],
    UNDEFINED,
  );
  await scan(pixelData);
  await assert.rejects(scan(pixelData.slice(0, -8)), MalformedDatasetError, "missing delimiter");
  await assert.rejects(scan(pixelData.slice(0, -10)), MalformedDatasetError, "cut fragment");
});

test("a UN element of undefined length is read as an implicit VR sequence (PS3.5 6.2.2)", async () => {
  const implicitElement = [...tag(0x0008, 0x0100), ...u32(2), ...text("AB")];
  await scan(
    element(
      0x0009,
      0x1010,
      "UN",
      [...item(implicitElement, UNDEFINED), ...itemEnd, ...sequenceEnd],
      UNDEFINED,
    ),
  );
});

test("framing errors are malformed: item at top level, bad VR, overrun, deep nesting", async () => {
  await assert.rejects(scan(item([])), MalformedDatasetError);
  await assert.rejects(scan([...tag(0x0008, 0x0060), ...text("u$"), ...u16(0)]), MalformedDatasetError);
  const overrun = element(0x0008, 0x1110, "SQ", item(element(0x0008, 0x0060, "CS", text("US")), 4));
  await assert.rejects(scan(overrun), MalformedDatasetError);
  let nested: number[] = [];
  for (let depth = 0; depth < 40; depth += 1) {
    nested = element(
      0x0008,
      0x1110,
      "SQ",
      [...item(nested, UNDEFINED), ...itemEnd, ...sequenceEnd],
      UNDEFINED,
    );
  }
  await assert.rejects(scan(nested), /nested deeper/);
});

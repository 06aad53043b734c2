import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeText, parseSpecificCharacterSet } from "./charset.ts";

const ascii = (text: string) => Uint8Array.from(text, (character) => character.charCodeAt(0));
const bytes = (...parts: Array<string | number[]>) =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === "string" ? [...ascii(part)] : part)));

// GB 2312 (EUC-CN) codes: 张 D5C5, 三 C8FD, 王 CDF5, 小 D0A1, 东 B6AB.
const ZHANG = [0xd5, 0xc5];
const SAN = [0xc8, 0xfd];
const ESC_G1_GB2312 = [0x1b, 0x24, 0x29, 0x41]; // ESC $ ) A
const ESC_G0_ASCII = [0x1b, 0x28, 0x42]; // ESC ( B

test("(0008,0005) terms are split on backslash and trimmed", () => {
  assert.deepEqual(parseSpecificCharacterSet(undefined), []);
  assert.deepEqual(parseSpecificCharacterSet(ascii("\\ISO 2022 IR 58 ")), ["", "ISO 2022 IR 58"]);
  assert.deepEqual(parseSpecificCharacterSet(ascii("ISO_IR 192")), ["ISO_IR 192"]);
});

test("single-valued character sets decode directly", () => {
  assert.equal(decodeText(new TextEncoder().encode("Zhang^San=张^三"), ["ISO_IR 192"]), "Zhang^San=张^三");
  assert.equal(decodeText(bytes([...ZHANG], "^", [...SAN]), ["GB18030"]), "张^三");
  assert.equal(decodeText(bytes("M", [0xfc], "ller^J", [0xf6], "rg"), ["ISO_IR 100"]), "Müller^Jörg");
});

test("PS3.5 Annex J style ISO 2022 IR 58: escapes switch G1 to GB 2312", () => {
  const value = bytes(
    "Zhang^San=",
    ESC_G1_GB2312,
    [...ZHANG],
    "^",
    ESC_G1_GB2312,
    [...SAN],
    ESC_G0_ASCII,
    "=",
  );
  assert.equal(decodeText(value, ["", "ISO 2022 IR 58"]), "Zhang^San=张^三=");
  assert.equal(decodeText(value, ["ISO 2022 IR 6", "ISO 2022 IR 58"]), "Zhang^San=张^三=");
});

test("undeclared non-ASCII bytes: UTF-8 when valid, else GBK (common on Chinese modalities)", () => {
  assert.equal(decodeText(new TextEncoder().encode("王^小东"), []), "王^小东");
  assert.equal(decodeText(bytes([0xcd, 0xf5], "^", [0xd0, 0xa1, 0xb6, 0xab]), []), "王^小东");
  assert.equal(decodeText(ascii("Doe^John"), []), "Doe^John");
});

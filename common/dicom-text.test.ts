import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeText, decodeUndeclared, parseSpecificCharacterSet } from "./dicom-text.ts";

const ascii = (text: string) => Uint8Array.from(text, (character) => character.charCodeAt(0));
const bytes = (...parts: Array<string | number[]>) =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === "string" ? [...ascii(part)] : part)));

// GB 2312 (EUC-CN) codes: 张 D5C5, 三 C8FD, 王 CDF5, 小 D0A1, 东 B6AB, 明 C3F7.
const ZHANG = [0xd5, 0xc5];
const SAN = [0xc8, 0xfd];
const WANG_XIAO_MING = [0xcd, 0xf5, 0xd0, 0xa1, 0xc3, 0xf7];
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
  assert.equal(decodeText(bytes([...ZHANG], "^", [...SAN]), ["GBK"]), "张^三");
  // GB 18030 four-byte form (U+20000 𠀀 = 0x95 0x32 0x82 0x36), beyond GBK.
  assert.equal(decodeText(bytes([0x95, 0x32, 0x82, 0x36]), ["GB18030"]), "𠀀");
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
  assert.equal(decodeText(value, ["", "ISO 2022 IR 58"], { personName: true }), "Zhang^San=张^三=");
  assert.equal(decodeText(value, ["ISO 2022 IR 6", "ISO 2022 IR 58"]), "Zhang^San=张^三=");
});

test("ISO 2022: PN delimiters and value ends return to the initial set (PS3.5 6.1.2.5.3)", () => {
  // Latin-1 is the initial G1; GB 2312 is designated for the ideographic group only, and the
  // phonetic group after "=" is Latin-1 again without another escape.
  const value = bytes("M", [0xfc], "ller=", ESC_G1_GB2312, [...ZHANG], "=M", [0xfc], "ller");
  const terms = ["ISO 2022 IR 100", "ISO 2022 IR 58"];
  assert.equal(decodeText(value, terms, { personName: true }), "Müller=张=Müller");
  const multi = bytes(ESC_G1_GB2312, [...ZHANG], "\\M", [0xfc], "ller");
  assert.equal(decodeText(multi, terms), "张\\Müller");
});

test("ISO 2022 IR 58 as the first value: G1 is GB 2312 before any escape", () => {
  assert.equal(decodeText(bytes([...ZHANG], "^", [...SAN]), ["ISO 2022 IR 58"]), "张^三");
});

test("undeclared non-ASCII bytes: UTF-8 when valid, else GBK when it looks like GBK", () => {
  assert.equal(decodeText(new TextEncoder().encode("王^小东"), []), "王^小东");
  assert.equal(decodeText(bytes([0xcd, 0xf5], "^", [0xd0, 0xa1, 0xb6, 0xab]), []), "王^小东");
  assert.equal(decodeText(bytes(WANG_XIAO_MING), ["ISO_IR 6"]), "王小明");
  // 朱镕基: 镕 is GBK-extension (trail byte 0x46 is ASCII "F"), the others are GB 2312.
  assert.equal(decodeText(bytes([0xd6, 0xec, 0xe9, 0x46, 0xbb, 0xf9]), []), "朱镕基");
  assert.equal(decodeText(ascii("Doe^John"), []), "Doe^John");
});

test("Latin-1 declared: GBK bytes are recognised, real Latin-1 stays Latin-1", () => {
  assert.equal(decodeText(bytes(WANG_XIAO_MING), ["ISO_IR 100"]), "王小明");
  assert.equal(decodeText(bytes([...ZHANG], "^", [...SAN]), ["ISO_IR 100"]), "张^三");
  assert.equal(decodeText(bytes("Fran", [0xe7], "ois^Ren", [0xe9]), ["ISO_IR 100"]), "François^René");
  assert.equal(decodeText(bytes("M", [0xfc], "ller"), []), "Müller");
  assert.equal(decodeText(bytes("J", [0xf6], "rg^M", [0xfc], "ller"), ["ISO_IR 100"]), "Jörg^Müller");
  // An odd-length run of high bytes cannot be GBK (windows-1251 Cyrillic seen in the corpus).
  assert.equal(decodeUndeclared(bytes([0xc7, 0xc0, 0xce])), "ÇÀÎ");
});

test("ISO 2022 with an empty initial G1: one escape for a whole PN still reads right", () => {
  const value = bytes(ESC_G1_GB2312, [...ZHANG], "^", [...SAN]);
  assert.equal(decodeText(value, ["ISO 2022 IR 6", "ISO 2022 IR 58"], { personName: true }), "张^三");
});

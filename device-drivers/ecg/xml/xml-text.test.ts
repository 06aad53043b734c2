import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_XML_BYTES } from "./limits.ts";
import { concatBytes } from "./xml-test-support.ts";
import { declaredEncoding, decodeXmlBytes } from "./xml-text.ts";

const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
/** 张伟 in GB2312/GBK (hand-checked against the GB2312 table: 张 D5C5, 伟 CEB0). */
const ZHANG_WEI_GBK = Uint8Array.of(0xd5, 0xc5, 0xce, 0xb0);

test("UTF-16LE and UTF-16BE with a BOM, and UTF-8 with a BOM, whatever the declaration says", () => {
  const text = '<?xml version="1.0" encoding="utf-16"?><a>中</a>';
  const le = concatBytes([Uint8Array.of(0xff, 0xfe), new Uint8Array(Buffer.from(text, "utf16le"))]);
  const be = concatBytes([Uint8Array.of(0xfe, 0xff), new Uint8Array(Buffer.from(text, "utf16le").swap16())]);
  assert.deepEqual(decodeXmlBytes(le), { text, encoding: "utf-16le", notes: [] });
  assert.deepEqual(decodeXmlBytes(be), { text, encoding: "utf-16be", notes: [] });
  const utf8Bom = concatBytes([Uint8Array.of(0xef, 0xbb, 0xbf), new Uint8Array(Buffer.from("<a>é</a>"))]);
  assert.equal(decodeXmlBytes(utf8Bom).text, "<a>é</a>");
});

test("UTF-16 without a BOM is recognised from the first '<'", () => {
  const text = "<?xml version='1.0'?><a/>";
  assert.equal(decodeXmlBytes(new Uint8Array(Buffer.from(text, "utf16le"))).text, text);
  assert.equal(decodeXmlBytes(new Uint8Array(Buffer.from(text, "utf16le").swap16())).text, text);
});

test("the declared ISO-8859-1 (GE MUSE) decodes bytes above 0x7F as Latin-1", () => {
  const bytes = ascii('<?xml version="1.0" encoding="ISO-8859-1"?><n>M\u00fcller</n>');
  const decoded = decodeXmlBytes(bytes);
  assert.equal(decoded.text, '<?xml version="1.0" encoding="ISO-8859-1"?><n>Müller</n>');
});

test("GB2312 / GBK declared by a Chinese cart is read as GB18030", () => {
  for (const label of ["GB2312", "gbk", "GB18030"]) {
    const bytes = concatBytes([
      ascii(`<?xml version="1.0" encoding="${label}"?><n>`),
      ZHANG_WEI_GBK,
      ascii("</n>"),
    ]);
    const decoded = decodeXmlBytes(bytes);
    assert.equal(decoded.encoding, "gb18030");
    assert.match(decoded.text, /<n>张伟<\/n>/);
  }
});

test("bytes that claim UTF-8 but are GBK are decoded as GB18030, with a note", () => {
  const bytes = concatBytes([
    ascii('<?xml version="1.0" encoding="UTF-8"?><n>'),
    ZHANG_WEI_GBK,
    ascii("</n>"),
  ]);
  const decoded = decodeXmlBytes(bytes);
  assert.match(decoded.text, /<n>张伟<\/n>/);
  assert.equal(decoded.encoding, "gb18030");
  assert.match(decoded.notes.join(), /not valid UTF-8/);
  // Valid UTF-8 stays UTF-8, with no note.
  assert.deepEqual(decodeXmlBytes(new Uint8Array(Buffer.from("<n>张伟</n>"))).notes, []);
});

test("an encoding the box cannot decode is ECG_XML_UNSUPPORTED; an oversized file ECG_XML_TOO_LARGE", () => {
  assert.throws(() => decodeXmlBytes(ascii('<?xml version="1.0" encoding="x-klingon"?><a/>')), {
    code: "ECG_XML_UNSUPPORTED",
  });
  assert.throws(() => decodeXmlBytes(new Uint8Array(MAX_XML_BYTES + 1)), { code: "ECG_XML_TOO_LARGE" });
});

test("declaredEncoding reads only the XML declaration", () => {
  assert.equal(
    declaredEncoding(ascii("<?xml version = '1.0' encoding = 'windows-1252' ?><a/>")),
    "windows-1252",
  );
  assert.equal(declaredEncoding(ascii('<?xml version="1.0"?><a encoding="gbk"/>')), undefined);
  assert.equal(declaredEncoding(ascii("<a/>")), undefined);
});

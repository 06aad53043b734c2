import assert from "node:assert/strict";
import { test } from "node:test";
import { attributeAt, child, children, parseXmlDocument, textAt } from "./xml-tree.ts";

test("namespaces are dropped from element and attribute names; text stays text", () => {
  const root = parseXmlDocument(
    '<?xml version="1.0"?><v3:AnnotatedECG xmlns:v3="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      '<v3:id extension="000123"/><value xsi:type="SLIST_PQ"><digits> 007 -1 </digits></value><value/></v3:AnnotatedECG>',
  );
  assert.equal(root.name, "AnnotatedECG");
  assert.equal(attributeAt(root, "extension", "id"), "000123"); // not the number 123
  assert.equal(attributeAt(root, "type", "value"), "SLIST_PQ");
  assert.equal(textAt(root, "value", "digits"), "007 -1");
  assert.equal(children(root, "value").length, 2);
  assert.equal(child(root, "value", "nothing"), undefined);
});

test("XML entities, character references and CDATA are decoded", () => {
  const root = parseXmlDocument("<a><s>QRSd &gt;115mS &amp; &#x4E2D;&#25991; <![CDATA[<raw>]]></s></a>");
  assert.equal(textAt(root, "s"), "QRSd >115mS & 中文 <raw>");
});

test("a document declaring entities is refused before anything expands (billion laughs)", () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<RestingECG>&lol2;</RestingECG>`;
  assert.throws(() => parseXmlDocument(laughs), {
    code: "ECG_XML_MALFORMED",
    message: /declares XML entities/,
  });
  // An external DTD reference alone (as MUSE writes) is fine.
  assert.equal(
    parseXmlDocument('<!DOCTYPE RestingECG SYSTEM "restecg.dtd"><RestingECG/>').name,
    "RestingECG",
  );
});

test("malformed XML is ECG_XML_MALFORMED with the line", () => {
  assert.throws(() => parseXmlDocument("<a>\n<b></a>"), { code: "ECG_XML_MALFORMED", message: /line 2/ });
  assert.throws(() => parseXmlDocument(""), { code: "ECG_XML_MALFORMED" });
  assert.throws(() => parseXmlDocument("just text"), { code: "ECG_XML_MALFORMED" });
});

test("absurd nesting is refused", () => {
  const deep = `${"<a>".repeat(200)}${"</a>".repeat(200)}`;
  assert.throws(() => parseXmlDocument(deep), { code: "ECG_XML_MALFORMED" });
});

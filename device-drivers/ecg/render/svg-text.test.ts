import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeXml, estimateTextWidthMm, fitText, mm, withoutXmlForbidden } from "./svg-text.ts";

test("markup characters are escaped and characters XML cannot hold are dropped", () => {
  assert.equal(escapeXml(`<b>&"x'`), "&lt;b&gt;&amp;&quot;x&apos;");
  assert.equal(withoutXmlForbidden("王\u0000小\u001f东\ud800\uffff\t"), "王小东\t");
  assert.equal(withoutXmlForbidden("𝄞 stays"), "𝄞 stays");
});

test("text is cut with an ellipsis to fit its width, CJK counting wider than Latin", () => {
  assert.ok(estimateTextWidthMm("心电图", 3) > estimateTextWidthMm("ECG", 3));
  assert.equal(fitText("short", 50, 3), "short");
  const cut = fitText("窦性心律 左心室肥厚 ST-T 改变 建议结合临床", 30, 3);
  assert.ok(cut.endsWith("…"));
  assert.ok(estimateTextWidthMm(cut, 3) <= 30);
});

test("coordinates print with at most two decimals and no negative zero", () => {
  assert.equal(mm(12.345678), "12.35");
  assert.equal(mm(-0.001), "0");
  assert.equal(mm(40), "40");
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { XMLValidator } from "fast-xml-parser";
import { DxgateError } from "../../common/errors.ts";
import { renderEcgSvg } from "../../device-drivers/ecg/render/index.ts";
import { syntheticEcgRecord } from "../../device-drivers/ecg/render/test-support.ts";
import { type ReportPrintInput, renderReportPrintPage } from "./report-print.ts";

function input(overrides: Partial<ReportPrintInput> = {}): ReportPrintInput {
  return {
    report: {
      reportId: "r-20240518-0001",
      findings: "窦性心律，心率 72 次/分。\nST 段未见明显偏移。",
      impression: "正常心电图",
      critical: false,
      reportedBy: "李医生",
      reportedAt: "2024-05-18T02:45:00.000Z",
    },
    study: {
      patient: { id: "P123", name: "张^三", sex: "F", birthDate: "19800101", age: "044Y" },
      modalities: ["ECG"],
      studyDate: "20240518",
      studyTime: "093015",
      studyDescription: "静息十二导联心电图",
      accessionNumber: "A-77",
      site: "城关镇卫生院",
    },
    language: "zh",
    timeZone: "Asia/Shanghai",
    ...overrides,
  };
}

/** The page is kept XHTML-compatible, so an XML parser can check that every element is closed. */
function assertWellFormed(page: string): void {
  const body = page.replace(/^<!DOCTYPE html>\n/, "");
  const result = XMLValidator.validate(body);
  assert.equal(result, true, JSON.stringify(result));
}

test("the page shows patient, study, findings, impression, doctor and time, with an A4 print style", () => {
  const page = renderReportPrintPage(input());
  assertWellFormed(page);
  assert.match(page, /@page \{ size: A4 portrait;/);
  for (const expected of [
    "心电图诊断报告",
    "城关镇卫生院",
    "张三",
    "女",
    "44岁",
    "P123",
    "2024-05-18 09:30:15",
    "A-77",
    "静息十二导联心电图",
    "窦性心律，心率 72 次/分。\nST 段未见明显偏移。",
    "正常心电图",
    "李医生",
    "2024-05-18 10:45", // 02:45 UTC in China Standard Time
    "r-20240518-0001",
  ])
    assert.ok(page.includes(expected), `page lacks ${JSON.stringify(expected)}`);
  assert.ok(!page.includes('class="critical"'), "no critical banner on a routine report");
  assert.ok(!page.includes("<script"), "the page runs no code");
});

test("a critical report carries a banner that says so", () => {
  const page = renderReportPrintPage(input({ report: { ...input().report, critical: true } }));
  assert.match(page, /<p class="critical" role="alert"><strong>危急值<\/strong>/);
  const en = renderReportPrintPage(input({ report: { ...input().report, critical: true }, language: "en" }));
  assert.match(en, /<strong>CRITICAL<\/strong>/);
  assert.match(en, /<html lang="en">/);
  assert.ok(en.includes("ECG report"));
  assert.ok(en.includes("Female"));
});

test("every text from the report and the study is escaped", () => {
  const page = renderReportPrintPage(
    input({
      report: {
        ...input().report,
        findings: `<img src=x onerror=alert(1)> & "quoted"`,
        impression: "</p><script>alert(2)</script>",
        reportedBy: "<b>Dr</b>",
      },
      study: { ...input().study, patient: { name: "<i>王</i>^五", id: "1&2" }, site: "<site>" },
    }),
  );
  assertWellFormed(page);
  assert.ok(!page.includes("<img"));
  assert.ok(!page.includes("<script>"));
  assert.ok(!page.includes("<b>Dr"));
  assert.ok(page.includes("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;"));
  assert.ok(page.includes("&lt;/p&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
  assert.ok(page.includes("&lt;i&gt;王&lt;/i&gt;五"));
  assert.ok(page.includes("1&amp;2"));
  assert.ok(page.includes("&lt;site&gt;"));
});

test("an ECG study's page holds the sheet inline, on its own landscape page at true scale", () => {
  const svg = renderEcgSvg(syntheticEcgRecord());
  const page = renderReportPrintPage(input({ ecgSvg: svg }));
  assertWellFormed(page);
  const sheet = svg.replace(/^<\?xml[^>]*\?>\n/, "").trim();
  assert.ok(page.includes(sheet), "the SVG is embedded as rendered");
  assert.ok(!page.includes("<?xml"), "no XML declaration inside HTML");
  assert.ok(
    page.indexOf('<section class="impression">') < page.indexOf("<svg"),
    "the sheet comes below the report",
  );
  assert.match(page, /@page ecg-sheet \{ size: A4 landscape; margin: 0; \}/);
  assert.match(page, /\.ecg-sheet svg \{ width: 297mm; height: 210mm;/);
  const withoutSheet = renderReportPrintPage(input());
  assert.ok(!withoutSheet.includes("<svg"));
});

test("anything but a plain SVG sheet is refused rather than put into the page", () => {
  const refused = (ecgSvg: string) =>
    assert.throws(
      () => renderReportPrintPage(input({ ecgSvg })),
      (error: unknown) => error instanceof DxgateError && error.code === "REPORT_PRINT_INVALID",
    );
  refused("<div>not svg</div>");
  refused('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  refused('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');
  refused('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>');
  // Text that merely mentions an attribute-like word is fine.
  const ok = '<svg xmlns="http://www.w3.org/2000/svg"><text>onset= early</text></svg>';
  assert.ok(renderReportPrintPage(input({ ecgSvg: ok })).includes(ok));
});

test("missing study details print as a dash, an age follows from the birth date, other modalities get their title", () => {
  const page = renderReportPrintPage(
    input({
      study: { patient: { birthDate: "19800601" }, modalities: ["US"], studyDate: "20240518" },
      report: { ...input().report, reportedAt: "not a time" },
    }),
  );
  assert.ok(page.includes("超声诊断报告"));
  assert.ok(page.includes("<th>年龄</th><td>43岁</td>"));
  assert.ok(page.includes("<th>姓名</th><td>—</td>"));
  assert.ok(page.includes("not a time"));
  assert.ok(
    renderReportPrintPage(input({ study: { ...input().study, modalities: ["DX"] } })).includes("X线诊断报告"),
  );
});

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { DxgateError } from "../../../common/errors.ts";
import type { EcgLead, EcgRecord } from "../ecg-record.ts";
import { renderEcgSvg } from "./ecg-svg.ts";
import { SHEET_GEOMETRY } from "./sheet-layout.ts";
import { readWfdbFormat16, syntheticEcgRecord } from "./test-support.ts";

interface SvgNode {
  tag: string;
  attrs: Record<string, string>;
  text: string;
  children: SvgNode[];
}

type Ordered = Record<string, unknown>;

/** The SVG as a tree (fast-xml-parser, entities decoded); fails the test when it is not well-formed XML. */
function parseSvg(svg: string): SvgNode {
  const valid = XMLValidator.validate(svg);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}`);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    ignoreDeclaration: true,
  });
  const convert = (item: Ordered): SvgNode | undefined => {
    const tag = Object.keys(item).find((key) => key !== ":@");
    if (!tag || tag === "#text") return undefined;
    const children = (item[tag] as Ordered[]).map(convert).filter((n): n is SvgNode => Boolean(n));
    // All the element's text, tspans included.
    const text = (item[tag] as Ordered[])
      .map((child) => ("#text" in child ? String(child["#text"]) : (convert(child)?.text ?? "")))
      .join("");
    return { tag, attrs: (item[":@"] as Record<string, string>) ?? {}, text, children };
  };
  const root = (parser.parse(svg) as Ordered[]).map(convert).find((n) => n?.tag === "svg");
  assert.ok(root, "no <svg> root");
  return root;
}

function all(node: SvgNode, match: (n: SvgNode) => boolean): SvgNode[] {
  return [...(match(node) ? [node] : []), ...node.children.flatMap((child) => all(child, match))];
}

function byId(node: SvgNode, id: string): SvgNode {
  const found = all(node, (n) => n.attrs.id === id)[0];
  assert.ok(found, `no element #${id}`);
  return found;
}

function pointsOf(polyline: SvgNode): Array<[number, number]> {
  return polyline.attrs.points!.split(" ").map((pair) => pair.split(",").map(Number) as [number, number]);
}

const traces = (root: SvgNode, lead?: string) =>
  all(root, (n) => n.tag === "polyline" && (lead === undefined || n.attrs["data-lead"] === lead));
const labels = (root: SvgNode) => all(root, (n) => n.attrs.class === "lead-label").map((n) => n.text);
const allText = (root: SvgNode) => all(root, (n) => n.tag === "text").map((n) => n.text);

/** A record whose lead II steps from 0 to exactly 1 mV at 1 s (every other lead flat). */
function stepRecord(): EcgRecord {
  const record = syntheticEcgRecord();
  const ii = record.rhythm.leads.find((l) => l.name === "II")!;
  ii.nanovoltsPerUnit = 2500;
  ii.samples = Int32Array.from({ length: 5000 }, (_, k) => (k >= 500 ? 400 : 0)); // 400 × 2.5 µV = 1 mV
  return record;
}

test("the sheet is well-formed A4 landscape SVG in mm with a 1 mm / 5 mm grid", () => {
  const root = parseSvg(renderEcgSvg(syntheticEcgRecord()));
  assert.equal(root.attrs.width, "297mm");
  assert.equal(root.attrs.height, "210mm");
  assert.equal(root.attrs.viewBox, "0 0 297 210");
  const g = SHEET_GEOMETRY;
  // 261 vertical and 161 horizontal lines over 260 × 160 mm, every fifth one major.
  const moves = (id: string) => (byId(root, id).attrs.d!.match(/M/g) ?? []).length;
  assert.equal(moves("grid-major"), g.gridWidthMm / 5 + 1 + g.gridHeightMm / 5 + 1);
  assert.equal(moves("grid-minor"), (g.gridWidthMm / 5) * 4 + (g.gridHeightMm / 5) * 4);
  assert.match(byId(root, "grid-major").attrs.d!, /M18\.5 35v160/);
});

test("12 lead labels in the classic layout, a lead II rhythm strip, and one trace per lead and window", () => {
  const root = parseSvg(renderEcgSvg(syntheticEcgRecord()));
  assert.deepEqual(labels(root), [
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
    "II",
  ]);
  assert.equal(traces(root).length, 13);
  const v1 = traces(root, "V1")[0]!;
  assert.deepEqual([v1.attrs["data-row"], v1.attrs["data-column"]], ["0", "2"]);
  const rhythm = traces(root, "II").find((t) => t.attrs["data-row"] === "3")!;
  const xs = pointsOf(rhythm).map(([x]) => x);
  assert.equal(Math.min(...xs), 28.5);
  assert.ok(Math.abs(Math.max(...xs) - 278.5) < 0.06, `rhythm strip ends at ${Math.max(...xs)} mm`);
});

test("a 1 mV step in lead II rises exactly 10 mm at 10 mm/mV, at the right time at 25 mm/s", () => {
  const root = parseSvg(renderEcgSvg(stepRecord()));
  const ii = traces(root, "II").find((t) => t.attrs["data-row"] === "1")!;
  const baseline = Number(ii.attrs["data-baseline-mm"]);
  assert.equal(baseline, 100);
  const points = pointsOf(ii);
  assert.deepEqual(
    [...new Set(points.map(([, y]) => y))].sort((a, b) => a - b),
    [90, 100],
  );
  const firstHigh = points.find(([, y]) => y === 90)!;
  assert.equal(firstHigh[0], 28.5 + 1 * 25); // 1 s after the trace start
  // The calibration pulse of every row is the same 10 mm.
  const pulses = byId(root, "calibration").attrs.d!;
  assert.equal((pulses.match(/v-10h5v10/g) ?? []).length, 4);
});

test("gain and speed change the scale and are stated on the sheet", () => {
  const root = parseSvg(renderEcgSvg(stepRecord(), { gainMmPerMv: 20, speedMmPerS: 50, language: "en" }));
  const ii = traces(root, "II").find((t) => t.attrs["data-row"] === "1")!;
  const points = pointsOf(ii);
  assert.deepEqual(
    [...new Set(points.map(([, y]) => y))].sort((a, b) => a - b),
    [80, 100],
  );
  assert.equal(points.find(([, y]) => y === 80)![0], 28.5 + 1 * 50);
  assert.match(byId(root, "calibration").attrs.d!, /v-20h5v20/);
  const footer = allText(byId(root, "footer")).join(" ");
  assert.match(footer, /50 mm\/s/);
  assert.match(footer, /20 mm\/mV/);
  assert.match(footer, /showing 0–5 s of 10 s/);
  const half = parseSvg(renderEcgSvg(stepRecord(), { gainMmPerMv: 5 }));
  const low = traces(half, "II").find((t) => t.attrs["data-row"] === "1")!;
  assert.deepEqual(
    [...new Set(pointsOf(low).map(([, y]) => y))].sort((a, b) => a - b),
    [95, 100],
  );
});

test("the header carries patient, acquisition, measurements and statements, in Chinese by default", () => {
  const zh = allText(byId(parseSvg(renderEcgSvg(syntheticEcgRecord())), "header")).join("\n");
  for (const expected of [
    "测试患者",
    "ID号: SYN-0001",
    "性别: 男",
    "年龄: 52岁",
    "2024-05-18 09:30:15",
    "心率",
  ])
    assert.ok(zh.includes(expected), `header lacks ${expected}:\n${zh}`);
  assert.ok(zh.includes("72 次/分"));
  assert.ok(zh.includes("380/416 ms"));
  assert.ok(zh.includes("55/48/40°"));
  assert.ok(zh.includes("窦性心律"));
  assert.ok(zh.includes("未经医师确认"));
  const en = allText(byId(parseSvg(renderEcgSvg(syntheticEcgRecord(), { language: "en" })), "header")).join(
    "\n",
  );
  for (const expected of ["ID: SYN-0001", "Sex: Male", "Age: 52 y", "HR", "72 bpm", "12-lead ECG"])
    assert.ok(en.includes(expected), `header lacks ${expected}:\n${en}`);
});

test("patient text is escaped: markup in a name stays text, and control characters do not break the XML", () => {
  const record = syntheticEcgRecord();
  record.patient.name = `<i>&"'\u0000^Tom`;
  record.statements = ["ST <elevation> & T inversion"];
  record.notes = ["note with <tag>"];
  const svg = renderEcgSvg(record, { language: "en" });
  assert.ok(!svg.includes("<i>"));
  assert.ok(!svg.includes("<elevation>"));
  const root = parseSvg(svg);
  const texts = allText(root);
  assert.ok(
    texts.some((t) => t.endsWith(`<i>&"' Tom`)),
    texts.join("\n"),
  );
  assert.ok(texts.includes("ST <elevation> & T inversion"));
  assert.ok(byId(root, "notes").text.includes("note with <tag>"));
});

test("an 8-lead record gets III, aVR, aVL, aVF derived and marked, or stays 8 leads when asked", () => {
  const eight = syntheticEcgRecord({ leads: ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"] });
  const root = parseSvg(renderEcgSvg(eight));
  assert.deepEqual(labels(root).slice(0, 6), ["I", "II", "III*", "aVR*", "aVL*", "aVF*"]);
  assert.equal(traces(root, "aVF")[0]!.attrs.class, "trace derived");
  assert.match(byId(root, "notes").text, /导出导联/);
  const kept = parseSvg(renderEcgSvg(eight, { deriveLimbLeads: false }));
  assert.deepEqual(labels(kept), ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "II"]);
  assert.ok(!byId(kept, "notes").text.includes("导出导联"));
});

test("a gap is greyed out on every row it falls in and no trace is drawn through it", () => {
  const record = syntheticEcgRecord();
  record.gaps = [{ startSample: 3200, sampleCount: 400 }]; // 6.4–7.2 s: the V1–V3 column and the rhythm strip
  const root = parseSvg(renderEcgSvg(record));
  const bands = all(root, (n) => n.attrs.class === "gap");
  assert.equal(bands.length, 4); // V1, V2, V3 and the rhythm strip
  const band = bands[0]!;
  assert.equal(Number(band.attrs.x), 28.5 + 6.4 * 25);
  assert.equal(Number(band.attrs.width), 0.8 * 25);
  const v1 = traces(root, "V1");
  assert.equal(v1.length, 2);
  const gapFrom = 28.5 + 6.4 * 25;
  const gapTo = 28.5 + 7.2 * 25;
  for (const line of [...v1, ...traces(root, "II")])
    assert.ok(
      pointsOf(line).every(([x]) => x < gapFrom || x >= gapTo),
      "a trace point inside the gap",
    );
  assert.match(byId(root, "notes").text, /0\.8 s/);
});

test("other lead sets render sensibly: 15 leads in 5 columns, a single lead as one strip, no leads as a message", () => {
  const fifteen = syntheticEcgRecord({
    leads: ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9"],
  });
  const root15 = parseSvg(renderEcgSvg(fifteen));
  assert.equal(labels(root15).length, 16);
  assert.deepEqual(
    traces(root15, "V8").map((t) => t.attrs["data-column"]),
    ["4"],
  );
  assert.ok(allText(root15).includes("15导联心电图"));
  const single = parseSvg(renderEcgSvg(syntheticEcgRecord({ leads: ["II"] })));
  assert.deepEqual(labels(single), ["II"]);
  assert.equal(traces(single).length, 1);
  assert.ok(allText(single).includes("单导联心电图"));
  const none = syntheticEcgRecord();
  none.rhythm = { samplingFrequencyHz: 500, leads: [] };
  const empty = parseSvg(renderEcgSvg(none));
  assert.equal(traces(empty).length, 0);
  assert.ok(allText(empty).includes("记录中没有波形数据"));
});

test("bad options and undrawable records are refused with a stable code", () => {
  const record = syntheticEcgRecord({ seconds: 1 });
  const code = (codeName: string) => (error: unknown) =>
    error instanceof DxgateError && error.code === codeName;
  // @ts-expect-error 30 mm/s is not a speed the sheet offers
  assert.throws(() => renderEcgSvg(record, { speedMmPerS: 30 }), code("ECG_RENDER_OPTION_INVALID"));
  // @ts-expect-error nor is 15 mm/mV a gain
  assert.throws(() => renderEcgSvg(record, { gainMmPerMv: 15 }), code("ECG_RENDER_OPTION_INVALID"));
  assert.throws(() => renderEcgSvg(record, { startSeconds: -1 }), code("ECG_RENDER_OPTION_INVALID"));
  const broken = { ...record, rhythm: { ...record.rhythm, samplingFrequencyHz: 0 } };
  assert.throws(() => renderEcgSvg(broken), code("ECG_RENDER_RECORD_INVALID"));
  const badLead: EcgLead = { name: "I", samples: new Int32Array(10), nanovoltsPerUnit: Number.NaN };
  assert.throws(
    () => renderEcgSvg({ ...record, rhythm: { samplingFrequencyHz: 500, leads: [badLead] } }),
    code("ECG_RENDER_RECORD_INVALID"),
  );
});

const SHARED = join(import.meta.dirname, "..", "..", "..", "..", "shared", "data");
const WFDB = join(SHARED, "ecg-wfdb", "00001_lr.hea");

test("a real ECG (PTB-XL 00001, WFDB, 100 Hz): every sample lands at its physical place", {
  skip: existsSync(WFDB)
    ? false
    : `SKIPPED: ${WFDB} is absent (the shared sample data is not next to this checkout)`,
}, async () => {
  const record = await readWfdbFormat16(WFDB);
  const root = parseSvg(renderEcgSvg(record));
  assert.deepEqual(labels(root).length, 13);
  const leadI = record.rhythm.leads.find((l) => l.name === "I")!;
  const points = pointsOf(traces(root, "I")[0]!);
  assert.equal(points.length, 250); // 2.5 s at 100 Hz, nothing merged
  // 1000 ADC units per mV: sample k at x = 28.5 + k × 0.25 mm, y = 60 − value / 100 mm.
  for (const k of [0, 17, 123, 249]) {
    const [x, y] = points[k]!;
    assert.ok(Math.abs(x - (28.5 + k * 0.25)) < 0.006);
    assert.ok(Math.abs(y - (60 - leadI.samples[k]! / 100)) < 0.006, `sample ${k}: y ${y}`);
  }
});

/**
 * The 12-lead ECG sheet as SVG: A4 landscape in mm (viewBox 297 × 210, width/height in mm), so a
 * browser or printer at 100% puts 1 mm of grid on 1 mm of paper and a ruler on the printout
 * measures the ECG as on a cart's own printout. The same SVG is rasterised for the preview PNG.
 *
 * What a reader needs from the page, top to bottom: who and when (header), the device's own
 * measurements and statements (marked unconfirmed), the 3 × 4 leads and the lead II rhythm strip
 * on 1 mm / 5 mm grid with a 1 mV calibration pulse per row, and the speed, gain and filters the
 * trace was drawn with. Derived leads carry a "*", and stretches lost in transit are greyed out
 * and not drawn, so nobody reads a filled gap as a flat line.
 */
import { DxgateError } from "../../../common/errors.ts";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import type { EcgGap, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import {
  ageInYears,
  formatAge,
  formatDicomDate,
  formatDicomTime,
  formatPersonName,
  formatSex,
  type SheetLanguage,
} from "./display-format.ts";
import { SHEET_LABELS, type SheetLabels, sourceFormatName } from "./sheet-labels.ts";
import { layoutSheet, SHEET_GEOMETRY, type SheetLayout } from "./sheet-layout.ts";
import { escapeXml, estimateTextWidthMm, fitText, mm } from "./svg-text.ts";
import { drawnRuns, type TraceScale, tracePoints } from "./trace-points.ts";

export const SHEET_SPEEDS_MM_PER_S = [25, 50] as const;
export const SHEET_GAINS_MM_PER_MV = [5, 10, 20] as const;

export interface EcgSheetOptions {
  /** Labels in Chinese (default) or English. */
  language?: SheetLanguage;
  /** Paper speed, 25 mm/s (default) or 50 mm/s (then the sheet shows 5 s). */
  speedMmPerS?: (typeof SHEET_SPEEDS_MM_PER_S)[number];
  /** Gain, 10 mm/mV (default), 5 or 20. */
  gainMmPerMv?: (typeof SHEET_GAINS_MM_PER_MV)[number];
  /** Where the sheet starts in a record longer than the page (s, default 0). */
  startSeconds?: number;
  /** Lead of the rhythm strip (default II). */
  rhythmLead?: string;
  /** Derive III, aVR, aVL, aVF when the record has only I and II of the limb leads (default true). */
  deriveLimbLeads?: boolean;
}

/**
 * Fonts in order of preference. librsvg (in sharp) and browsers both fall back through the list
 * per glyph: a CJK face first so Chinese never turns into boxes (Debian fonts-wqy-microhei, or
 * fonts-noto-cjk), DejaVu for anything they lack.
 */
export const SHEET_FONT_FAMILY =
  "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'Droid Sans Fallback', 'DejaVu Sans', sans-serif";

/**
 * Lead labels are Latin only; WenQuanYi's bold capital I has slab serifs, which makes "II" and
 * "III" look unlike every other ECG printout, so these take a plain sans face.
 */
const LATIN_FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";

const COLORS = Object.freeze({
  gridMinor: "#f3b9b9",
  gridMajor: "#e07a7a",
  trace: "#000",
  text: "#111",
  muted: "#555",
  gap: "#7a7a7a",
});

export function renderEcgSvg(record: EcgRecord, options: EcgSheetOptions = {}): string {
  const g = SHEET_GEOMETRY;
  return sheetSvg(record, options, `${g.pageWidthMm}mm`, `${g.pageHeightMm}mm`);
}

/**
 * The same sheet with the outer size in pixels, for rasterising: libvips' SVG loader scales an
 * mm-sized SVG by (density / 72)² rather than density / 72 (sharp 0.35, libvips 8.18), so the PNG
 * renderer asks for exact pixels at density 72 instead of trusting that arithmetic.
 */
export function renderEcgSvgInPixels(
  record: EcgRecord,
  options: EcgSheetOptions,
  widthPx: number,
  heightPx: number,
): string {
  return sheetSvg(record, options, String(widthPx), String(heightPx));
}

function sheetSvg(record: EcgRecord, options: EcgSheetOptions, width: string, height: string): string {
  const settings = sheetSettings(options);
  checkRecord(record);
  const labels = SHEET_LABELS[settings.language];
  const waveform = settings.deriveLimbLeads ? withDerivedLimbLeads(record.rhythm) : record.rhythm;
  const layout = layoutSheet(waveform, settings);
  const g = SHEET_GEOMETRY;
  const parts: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"` +
      ` viewBox="0 0 ${g.pageWidthMm} ${g.pageHeightMm}" font-family="${SHEET_FONT_FAMILY}"` +
      ` data-speed-mm-per-s="${settings.speedMmPerS}" data-gain-mm-per-mv="${settings.gainMmPerMv}">`,
    `<title>${escapeXml(labels.title(waveform.leads.length))}</title>`,
    `<rect width="${g.pageWidthMm}" height="${g.pageHeightMm}" fill="#fff"/>`,
    grid(),
    header(record, waveform, labels, settings.language),
  ];
  if (layout.segments.length === 0) {
    parts.push(
      `<text x="${mm(g.gridXMm + g.gridWidthMm / 2)}" y="${mm(g.gridYMm + g.gridHeightMm / 2)}" font-size="6"` +
        ` text-anchor="middle" fill="${COLORS.muted}">${escapeXml(labels.noWaveform)}</text>`,
    );
  } else {
    parts.push(
      gapBands(layout, record.gaps ?? [], waveform.samplingFrequencyHz, settings.speedMmPerS, labels),
      calibrationPulses(layout, settings.gainMmPerMv),
      traces(layout, waveform, record.gaps ?? [], settings),
      leadLabels(layout),
    );
  }
  parts.push(footer(record, waveform, layout, labels, settings), "</svg>");
  return `${parts.join("\n")}\n`;
}

interface ResolvedSettings {
  language: SheetLanguage;
  speedMmPerS: number;
  gainMmPerMv: number;
  startSeconds: number;
  rhythmLead?: string;
  deriveLimbLeads: boolean;
}

function sheetSettings(options: EcgSheetOptions): ResolvedSettings {
  const language = options.language ?? "zh";
  const speedMmPerS = options.speedMmPerS ?? 25;
  const gainMmPerMv = options.gainMmPerMv ?? 10;
  const startSeconds = options.startSeconds ?? 0;
  if (language !== "zh" && language !== "en")
    throw optionError(`language must be "zh" or "en", not ${JSON.stringify(language)}`);
  if (!(SHEET_SPEEDS_MM_PER_S as readonly number[]).includes(speedMmPerS))
    throw optionError(
      `paper speed must be one of ${SHEET_SPEEDS_MM_PER_S.join(", ")} mm/s, not ${speedMmPerS}`,
    );
  if (!(SHEET_GAINS_MM_PER_MV as readonly number[]).includes(gainMmPerMv))
    throw optionError(`gain must be one of ${SHEET_GAINS_MM_PER_MV.join(", ")} mm/mV, not ${gainMmPerMv}`);
  if (!Number.isFinite(startSeconds) || startSeconds < 0)
    throw optionError(`start must be a time in seconds ≥ 0, not ${startSeconds}`);
  return {
    language,
    speedMmPerS,
    gainMmPerMv,
    startSeconds,
    ...(options.rhythmLead === undefined ? {} : { rhythmLead: options.rhythmLead }),
    deriveLimbLeads: options.deriveLimbLeads ?? true,
  };
}

function optionError(message: string): DxgateError {
  return new DxgateError("ECG_RENDER_OPTION_INVALID", `ECG sheet: ${message}`, 400);
}

function checkRecord(record: EcgRecord): void {
  const fs = record.rhythm.samplingFrequencyHz;
  const problem = (message: string) =>
    new DxgateError("ECG_RENDER_RECORD_INVALID", `ECG sheet: the record cannot be drawn: ${message}`, 422);
  if (!Number.isFinite(fs) || fs <= 0) throw problem(`sampling frequency ${fs} Hz`);
  for (const lead of record.rhythm.leads)
    if (!Number.isFinite(lead.nanovoltsPerUnit) || lead.nanovoltsPerUnit <= 0)
      throw problem(`lead ${lead.name} has unit size ${lead.nanovoltsPerUnit} nV`);
}

/** 1 mm light lines and 5 mm darker lines over the whole grid, each set one path. */
function grid(): string {
  const g = SHEET_GEOMETRY;
  const minor: string[] = [];
  const major: string[] = [];
  for (let i = 0; i <= g.gridWidthMm; i++)
    (i % 5 === 0 ? major : minor).push(`M${mm(g.gridXMm + i)} ${g.gridYMm}v${g.gridHeightMm}`);
  for (let j = 0; j <= g.gridHeightMm; j++)
    (j % 5 === 0 ? major : minor).push(`M${mm(g.gridXMm)} ${g.gridYMm + j}h${g.gridWidthMm}`);
  return [
    '<g id="grid" fill="none">',
    `<path id="grid-minor" stroke="${COLORS.gridMinor}" stroke-width="0.08" d="${minor.join("")}"/>`,
    `<path id="grid-major" stroke="${COLORS.gridMajor}" stroke-width="0.2" d="${major.join("")}"/>`,
    "</g>",
  ].join("\n");
}

/** A text element (content escaped here, never by the caller). */
function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${mm(x)}" y="${mm(y)}"${attributes ? ` ${attributes}` : ""}>${escapeXml(content)}</text>`;
}

function header(
  record: EcgRecord,
  waveform: EcgWaveform,
  labels: SheetLabels,
  language: SheetLanguage,
): string {
  const { patient, acquisition } = record;
  const size = 2.9;
  const lineMm = 4.1;
  const firstLine = 15.4;
  const out: string[] = [`<g id="header" fill="${COLORS.text}" font-size="${size}">`];
  // Em spaces: XML collapses runs of ordinary spaces.
  const join = (...items: Array<string | undefined | false>) => items.filter(Boolean).join("\u2003\u2003");
  const field = (label: string, value: string | undefined) => (value ? `${label}: ${value}` : undefined);

  // Column 1: the patient and the acquisition.
  const x1 = SHEET_GEOMETRY.gridXMm;
  const width1 = 88;
  const name = formatPersonName(patient.name, language);
  const nameLabel = `${labels.name}:`;
  const nameRoom = width1 - estimateTextWidthMm(nameLabel, size);
  out.push(
    `<text x="${mm(x1)}" y="10" font-size="4.4" font-weight="bold">` +
      `<tspan font-size="${size}" font-weight="normal" fill="${COLORS.muted}">${escapeXml(nameLabel)}</tspan>` +
      // dx, not a space: librsvg drops a space at the end of a tspan.
      `<tspan dx="1.2">${escapeXml(fitText(name || "—", nameRoom - 1.2, 4.4))}</tspan></text>`,
  );
  const computedAge = ageInYears(patient.birthDate, acquisition.date);
  const age = patient.age
    ? formatAge(patient.age, language)
    : computedAge === undefined
      ? undefined
      : formatAge(`${computedAge}Y`, language);
  const heightWeight = [
    patient.heightCm === undefined ? "" : `${patient.heightCm} cm`,
    patient.weightKg === undefined ? "" : `${patient.weightKg} kg`,
  ]
    .filter(Boolean)
    .join(" / ");
  const device = [acquisition.manufacturer, acquisition.model].filter(Boolean).join(" ");
  const place = [acquisition.institution, acquisition.department].filter(Boolean).join(" ");
  const when = [formatDicomDate(acquisition.date), formatDicomTime(acquisition.time)]
    .filter(Boolean)
    .join(" ");
  const patientLines = [
    join(
      field(labels.patientId, patient.id ?? "—"),
      field(labels.accessionNumber, acquisition.accessionNumber),
    ),
    join(
      field(labels.sex, formatSex(patient.sex, language) || "—"),
      field(labels.age, age || "—"),
      field(labels.birthDate, formatDicomDate(patient.birthDate)),
      field(labels.heightWeight, heightWeight),
    ),
    field(labels.acquired, when || "—"),
    join(field(labels.device, device || "—"), field(labels.serialNumber, acquisition.deviceSerialNumber)),
    join(field(labels.institution, place), field(labels.operator, acquisition.operator)),
    field(labels.referringPhysician, acquisition.referringPhysician),
  ].filter((line): line is string => Boolean(line));
  patientLines.slice(0, 5).forEach((line, index) => {
    out.push(text(x1, firstLine + index * lineMm, fitText(line, width1, size)));
  });

  // Column 2: the device's global measurements, a dash where it gave none.
  const x2 = 110;
  const m = record.measurements ?? {};
  // Some devices state only the RR interval; the rate is the same measurement (60 000 / RR).
  const heartRate =
    m.heartRateBpm ?? (m.rrIntervalMs && m.rrIntervalMs > 0 ? 60000 / m.rrIntervalMs : undefined);
  const ms = (value: number | undefined) => (value === undefined ? "—" : `${Math.round(value)} ms`);
  const slash = (values: Array<number | undefined>, unit: string) =>
    values.every((v) => v === undefined)
      ? "—"
      : `${values.map((v) => (v === undefined ? "—" : String(Math.round(v)))).join("/")}${unit}`;
  const measurementRows: Array<[string, string]> = [
    [labels.heartRate, heartRate === undefined ? "—" : `${Math.round(heartRate)} ${labels.heartRateUnit}`],
    [labels.rr, ms(m.rrIntervalMs)],
    [labels.pr, ms(m.prIntervalMs)],
    [labels.qrs, ms(m.qrsDurationMs)],
    [labels.qtQtc, slash([m.qtIntervalMs, m.qtcIntervalMs], " ms")],
    [labels.axes, slash([m.pAxisDeg, m.qrsAxisDeg, m.tAxisDeg], "°")],
  ];
  measurementRows.forEach(([label, value], index) => {
    const y = 10 + index * lineMm;
    out.push(text(x2, y, label, `fill="${COLORS.muted}"`), text(x2 + 22, y, value, 'font-weight="bold"'));
  });

  // Column 3: what the sheet is, and the device's statements (not a diagnosis until a doctor signs).
  const x3 = 168;
  const width3 = SHEET_GEOMETRY.gridXMm + SHEET_GEOMETRY.gridWidthMm - x3;
  out.push(text(x3, 10, labels.title(waveform.leads.length), 'font-size="4.4" font-weight="bold"'));
  out.push(text(x3, firstLine, labels.statements, `font-size="2.5" fill="${COLORS.muted}"`));
  const statements = (record.statements ?? []).map((s) => s.trim()).filter(Boolean);
  const maxLines = 4;
  const shown =
    statements.length > maxLines
      ? [...statements.slice(0, maxLines - 1), labels.moreStatements(statements.length - maxLines + 1)]
      : statements;
  if (shown.length === 0) shown.push(labels.noStatements);
  shown.forEach((statement, index) => {
    out.push(text(x3, firstLine + (index + 1) * lineMm, fitText(statement, width3, size)));
  });
  out.push("</g>");
  return out.join("\n");
}

function calibrationPulses(layout: SheetLayout, gainMmPerMv: number): string {
  const x = SHEET_GEOMETRY.gridXMm;
  // 1 mV high, 0.2 s (5 mm at 25 mm/s) wide, standing on the row's baseline.
  const paths = layout.rowBaselinesMm.map(
    (baseline) => `M${mm(x + 1)} ${mm(baseline)}h2v${mm(-gainMmPerMv)}h5v${mm(gainMmPerMv)}h2`,
  );
  return `<path id="calibration" fill="none" stroke="${COLORS.trace}" stroke-width="0.25" stroke-linejoin="miter" d="${paths.join("")}"/>`;
}

function traces(
  layout: SheetLayout,
  waveform: EcgWaveform,
  gaps: readonly EcgGap[],
  settings: ResolvedSettings,
): string {
  const g = SHEET_GEOMETRY;
  const out: string[] = [
    `<defs><clipPath id="grid-clip"><rect x="${mm(g.gridXMm)}" y="${mm(g.gridYMm)}" width="${g.gridWidthMm}" height="${g.gridHeightMm}"/></clipPath></defs>`,
    // Excursions beyond the grid are clipped (as on paper), not drawn over the header or footer.
    `<g id="traces" clip-path="url(#grid-clip)" fill="none" stroke="${COLORS.trace}" stroke-width="0.25" stroke-linejoin="round" stroke-linecap="round">`,
  ];
  for (const segment of layout.segments) {
    const scale: TraceScale = {
      samplingFrequencyHz: waveform.samplingFrequencyHz,
      speedMmPerS: settings.speedMmPerS,
      gainMmPerMv: settings.gainMmPerMv,
      nanovoltsPerUnit: segment.lead.nanovoltsPerUnit,
    };
    // Lead change marks between columns, as a cart draws them.
    if (segment.column > 0)
      out.push(
        `<path class="lead-change" d="M${mm(segment.xMm)} ${mm(segment.baselineMm - 3)}v6" stroke-width="0.3"/>`,
      );
    for (const [start, end] of drawnRuns(segment, gaps)) {
      const points = tracePoints(segment.lead.samples, start, end, segment, scale);
      const pairs: string[] = [];
      for (let i = 0; i < points.length; i += 2) pairs.push(`${mm(points[i]!)},${mm(points[i + 1]!)}`);
      out.push(
        `<polyline class="trace${segment.lead.derived ? " derived" : ""}" data-lead="${escapeXml(segment.lead.name)}"` +
          ` data-row="${segment.row}" data-column="${segment.column}" data-baseline-mm="${mm(segment.baselineMm)}"` +
          ` data-first-sample="${start}" points="${pairs.join(" ")}"/>`,
      );
    }
  }
  out.push("</g>");
  return out.join("\n");
}

function leadLabels(layout: SheetLayout): string {
  const out: string[] = [
    // A white halo keeps a label readable where the trace runs through it.
    `<g id="lead-labels" font-family="${LATIN_FONT_FAMILY}" font-size="3.4" font-weight="bold" fill="${COLORS.text}" stroke="#fff" stroke-width="0.8" paint-order="stroke" stroke-linejoin="round">`,
  ];
  const above = Math.min(12, layout.rowPitchMm * 0.3);
  for (const segment of layout.segments) {
    const label = `${segment.lead.name}${segment.lead.derived ? "*" : ""}`;
    out.push(
      text(
        segment.xMm + 1.2,
        segment.baselineMm - above,
        label,
        `class="lead-label" data-lead="${escapeXml(segment.lead.name)}"`,
      ),
    );
  }
  out.push("</g>");
  return out.join("\n");
}

/** Grey bands over every stretch lost in transit, on every row whose window it falls in. */
function gapBands(
  layout: SheetLayout,
  gaps: readonly EcgGap[],
  fs: number,
  speedMmPerS: number,
  labels: SheetLabels,
): string {
  if (gaps.length === 0) return "";
  const out: string[] = [`<g id="gaps" fill="${COLORS.gap}">`];
  const top = layout.rowPitchMm * 0.55;
  const height = layout.rowPitchMm * 0.85;
  for (const segment of layout.segments) {
    for (const gap of gaps) {
      const from = Math.max(gap.startSample / fs, segment.startSeconds);
      const to = Math.min((gap.startSample + gap.sampleCount) / fs, segment.endSeconds);
      if (to <= from) continue;
      const x = segment.xMm + (from - segment.startSeconds) * speedMmPerS;
      const width = Math.max(0.3, (to - from) * speedMmPerS);
      out.push(
        `<rect class="gap" x="${mm(x)}" y="${mm(segment.baselineMm - top)}" width="${mm(width)}" height="${mm(height)}" fill-opacity="0.35"/>`,
      );
      if (width >= 4)
        out.push(
          text(
            x + width / 2,
            segment.baselineMm - top + 3,
            labels.gapMark,
            'font-size="2.4" text-anchor="middle"',
          ),
        );
    }
  }
  out.push("</g>");
  return out.join("\n");
}

function footer(
  record: EcgRecord,
  waveform: EcgWaveform,
  layout: SheetLayout,
  labels: SheetLabels,
  settings: ResolvedSettings,
): string {
  const g = SHEET_GEOMETRY;
  const { acquisition } = record;
  const number = (value: number) => String(Math.round(value * 1000) / 1000);
  const filter =
    acquisition.highPassHz !== undefined && acquisition.lowPassHz !== undefined
      ? `${labels.filter} ${number(acquisition.highPassHz)}–${number(acquisition.lowPassHz)} Hz`
      : acquisition.highPassHz !== undefined
        ? `${labels.filter} ${labels.highPass} ${number(acquisition.highPassHz)} Hz`
        : acquisition.lowPassHz !== undefined
          ? `${labels.filter} ${labels.lowPass} ${number(acquisition.lowPassHz)} Hz`
          : undefined;
  const settingsLine = [
    `${labels.speed} ${settings.speedMmPerS} mm/s`,
    `${labels.gain} ${settings.gainMmPerMv} mm/mV`,
    filter,
    acquisition.notchHz === undefined ? undefined : `${labels.notch} ${number(acquisition.notchHz)} Hz`,
    `${labels.sampling} ${number(waveform.samplingFrequencyHz)} Hz`,
  ]
    .filter(Boolean)
    .join("\u2003\u2003");
  const seconds = (value: number) => String(Math.round(value * 10) / 10);
  const window = labels.shown(
    seconds(layout.shownFromSeconds),
    seconds(layout.shownToSeconds),
    seconds(layout.recordSeconds),
  );
  const lostSamples = (record.gaps ?? []).reduce((sum, gap) => sum + gap.sampleCount, 0);
  const notes = [
    waveform.leads.some((lead) => lead.derived) ? labels.derivedNote : undefined,
    lostSamples > 0 ? labels.gapNote(seconds(lostSamples / waveform.samplingFrequencyHz)) : undefined,
    ...(record.notes ?? []),
  ].filter((note): note is string => Boolean(note));
  const source = `${labels.source}: ${sourceFormatName(record.source.format, settings.language)}${record.source.version ? ` ${record.source.version}` : ""} · dxgate`;
  const left = g.gridXMm;
  const right = g.gridXMm + g.gridWidthMm;
  const size = 2.7;
  return [
    `<g id="footer" font-size="${size}" fill="${COLORS.text}">`,
    text(left, 200, settingsLine, 'font-weight="bold"'),
    text(right, 200, window, 'text-anchor="end"'),
    text(
      left,
      204.2,
      fitText(notes.join("；"), g.gridWidthMm - 62, size),
      `id="notes" fill="${COLORS.muted}"`,
    ),
    text(right, 204.2, fitText(source, 58, size), `text-anchor="end" fill="${COLORS.muted}"`),
    "</g>",
  ].join("\n");
}

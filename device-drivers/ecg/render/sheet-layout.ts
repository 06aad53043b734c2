/**
 * Where each lead goes on the sheet. The page is A4 landscape in mm; the grid is 260 × 160 mm
 * (52 × 32 large squares), starting with a 10 mm zone for the calibration pulses, then 250 mm of
 * trace: 10 s at 25 mm/s, 5 s at 50 mm/s.
 *
 * The classic layout: 3 rows of leads, each column a consecutive stretch of time (I, II, III for
 * the first 2.5 s, aVR, aVL, aVF for the next, then V1–V3, V4–V6), and a full-width rhythm strip
 * of lead II underneath. Other lead sets keep the same idea: 15 leads make 5 columns of 2 s, more
 * than 18 add rows, and a record of 1–3 leads shows each lead as its own full-width strip.
 */
import { type EcgLead, type EcgWaveform, STANDARD_12_LEADS, waveformSeconds } from "../ecg-record.ts";

export const SHEET_GEOMETRY = Object.freeze({
  pageWidthMm: 297,
  pageHeightMm: 210,
  gridXMm: 18.5,
  gridYMm: 35,
  gridWidthMm: 260,
  gridHeightMm: 160,
  /** Room at the start of each row for the 1 mV calibration pulse. */
  calibrationZoneMm: 10,
  traceWidthMm: 250,
  /** Row spacing when there is room (4 rows of 40 mm fill the grid). */
  rowPitchMm: 40,
  /** Most lead columns on one row band (below 1.67 s each at 25 mm/s a beat barely fits). */
  maxColumns: 6,
});

export interface SheetSettings {
  speedMmPerS: number;
  /** Where the sheet starts in the record (s); records longer than the page show a window. */
  startSeconds: number;
  /** The rhythm strip's lead (default II, else the first lead). */
  rhythmLead?: string;
}

/** One lead drawn over one stretch of time at one place on the page. */
export interface SheetSegment {
  lead: EcgLead;
  row: number;
  column: number;
  /** The full-width rhythm strip (or a lone lead's own strip). */
  rhythm: boolean;
  /** Left edge on the page (mm) — the position of time `startSeconds`. */
  xMm: number;
  widthMm: number;
  /** The y (mm) of 0 mV. */
  baselineMm: number;
  /** Time window from the record's first sample (s), [start, end). */
  startSeconds: number;
  endSeconds: number;
  /** Samples drawn: [firstSample, endSample). */
  firstSample: number;
  endSample: number;
}

export interface SheetLayout {
  /** Baseline y (mm) of every row band, top to bottom (the rhythm strip last). */
  rowBaselinesMm: number[];
  rowPitchMm: number;
  columnCount: number;
  segments: SheetSegment[];
  /** The time window the sheet shows (s from the record start). */
  shownFromSeconds: number;
  shownToSeconds: number;
  recordSeconds: number;
}

const STANDARD_ORDER: readonly string[] = STANDARD_12_LEADS;

/** Standard leads in their sheet order first, then any others in the order the record gives them. */
export function sheetLeadOrder(leads: readonly EcgLead[]): EcgLead[] {
  const rank = (lead: EcgLead) => {
    const index = STANDARD_ORDER.indexOf(lead.name);
    return index < 0 ? STANDARD_ORDER.length : index;
  };
  return leads
    .map((lead, position) => ({ lead, position }))
    .sort((a, b) => rank(a.lead) - rank(b.lead) || a.position - b.position)
    .map(({ lead }) => lead);
}

export function layoutSheet(waveform: EcgWaveform, settings: SheetSettings): SheetLayout {
  const g = SHEET_GEOMETRY;
  const fs = waveform.samplingFrequencyHz;
  const recordSeconds = waveformSeconds(waveform);
  const from = Math.max(0, settings.startSeconds);
  const shownSeconds = Math.max(0, Math.min(g.traceWidthMm / settings.speedMmPerS, recordSeconds - from));
  const leads = sheetLeadOrder(waveform.leads);
  const empty: SheetLayout = {
    rowBaselinesMm: [],
    rowPitchMm: g.rowPitchMm,
    columnCount: 0,
    segments: [],
    shownFromSeconds: from,
    shownToSeconds: from,
    recordSeconds,
  };
  if (leads.length === 0 || shownSeconds <= 0) return empty;

  const few = leads.length <= 3;
  const columnCount = few ? 1 : Math.min(g.maxColumns, Math.ceil(leads.length / 3));
  const leadRows = few ? leads.length : Math.ceil(leads.length / columnCount);
  const bandCount = few ? leadRows : leadRows + 1;
  const rowPitchMm = Math.min(g.rowPitchMm, g.gridHeightMm / bandCount);
  // The baseline sits lower than the band's middle: most complexes reach higher above it than below.
  const rowBaselinesMm = Array.from(
    { length: bandCount },
    (_, row) => g.gridYMm + rowPitchMm * (row + 0.625),
  );
  const traceX = g.gridXMm + g.calibrationZoneMm;
  const columnSeconds = shownSeconds / columnCount;
  const lastSample = waveform.leads[0]!.samples.length;

  const segment = (lead: EcgLead, row: number, column: number, rhythm: boolean, seconds: number) => {
    const startSeconds = from + column * seconds;
    const endSeconds = startSeconds + seconds;
    return {
      lead,
      row,
      column,
      rhythm,
      xMm: traceX + column * seconds * settings.speedMmPerS,
      widthMm: seconds * settings.speedMmPerS,
      baselineMm: rowBaselinesMm[row]!,
      startSeconds,
      endSeconds,
      // Sample k (at k / fs) belongs to the window when start ≤ k / fs < end.
      firstSample: Math.min(lastSample, Math.max(0, Math.ceil(startSeconds * fs - 1e-9))),
      endSample: Math.min(lastSample, lead.samples.length, Math.ceil(endSeconds * fs - 1e-9)),
    };
  };

  const segments: SheetSegment[] = [];
  if (few) {
    leads.forEach((lead, row) => {
      segments.push(segment(lead, row, 0, true, shownSeconds));
    });
  } else {
    leads.forEach((lead, index) => {
      segments.push(segment(lead, index % leadRows, Math.floor(index / leadRows), false, columnSeconds));
    });
    const wanted = settings.rhythmLead ?? "II";
    const rhythmLead = leads.find((lead) => lead.name === wanted) ?? leads[0]!;
    segments.push(segment(rhythmLead, leadRows, 0, true, shownSeconds));
  }
  return {
    rowBaselinesMm,
    rowPitchMm,
    columnCount,
    segments,
    shownFromSeconds: from,
    shownToSeconds: from + shownSeconds,
    recordSeconds,
  };
}

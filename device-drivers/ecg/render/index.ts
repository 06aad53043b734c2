/**
 * The ECG sheet: a standard 12-lead printout (25 mm/s, 10 mm/mV, 1 mm / 5 mm grid, lead labels,
 * patient header) as SVG in true mm, and as PNG through sharp — the preview sent ahead of a study
 * and the page printed with its report.
 */
export {
  ageInYears,
  formatAge,
  formatDicomDate,
  formatDicomTime,
  formatPersonName,
  formatSex,
  type SheetLanguage,
} from "./display-format.ts";
export { type EcgPngOptions, PREVIEW_DPI, PRINT_DPI, renderEcgPng, sheetPixelSize } from "./ecg-png.ts";
export {
  type EcgSheetOptions,
  renderEcgSvg,
  SHEET_FONT_FAMILY,
  SHEET_GAINS_MM_PER_MV,
  SHEET_SPEEDS_MM_PER_S,
} from "./ecg-svg.ts";
export { SHEET_GEOMETRY } from "./sheet-layout.ts";
export { escapeXml } from "./svg-text.ts";

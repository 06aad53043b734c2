/**
 * The sheet as PNG, rasterised from the SVG by sharp (libvips → librsvg, text through
 * pango/fontconfig). 150 DPI (1754 × 1240 px) is the preview sent ahead of the study; 300 DPI
 * (3508 × 2480 px) is for printing. Either way 1 mm of grid is `dpi / 25.4` pixels.
 *
 * Chinese labels need a CJK font on the machine (Debian: fonts-wqy-microhei, or fonts-noto-cjk);
 * without one fontconfig draws boxes, the trace and grid are unaffected.
 */
import sharp from "sharp";
import { DxgateError } from "../../../common/errors.ts";
import type { EcgRecord } from "../ecg-record.ts";
import { type EcgSheetOptions, renderEcgSvgInPixels } from "./ecg-svg.ts";
import { SHEET_GEOMETRY } from "./sheet-layout.ts";

export const PREVIEW_DPI = 150;
export const PRINT_DPI = 300;

export interface EcgPngOptions extends EcgSheetOptions {
  /** Resolution (default 150, the preview); 300 for print. */
  dpi?: number;
  /**
   * Quantise to a 256-colour palette. Default: yes for preview resolutions (below 200 DPI) — the
   * sheet has few colours and the preview crosses a slow link, so the file shrinks by more than
   * half with no visible change; no for print, where quantising a 300 DPI page costs seconds on a
   * small box and the file stays local.
   */
  palette?: boolean;
}

const MIN_DPI = 50;
const MAX_DPI = 600;

/** Pixel size of the A4 landscape sheet at `dpi` (1754 × 1240 at 150, 3508 × 2480 at 300). */
export function sheetPixelSize(dpi: number): { widthPx: number; heightPx: number } {
  return {
    widthPx: Math.round((SHEET_GEOMETRY.pageWidthMm / 25.4) * dpi),
    heightPx: Math.round((SHEET_GEOMETRY.pageHeightMm / 25.4) * dpi),
  };
}

export async function renderEcgPng(record: EcgRecord, options: EcgPngOptions = {}): Promise<Uint8Array> {
  const { dpi = PREVIEW_DPI, palette = dpi < 200, ...sheetOptions } = options;
  if (!Number.isFinite(dpi) || dpi < MIN_DPI || dpi > MAX_DPI)
    throw new DxgateError(
      "ECG_RENDER_OPTION_INVALID",
      `ECG sheet: resolution must be ${MIN_DPI}–${MAX_DPI} DPI, not ${dpi}`,
      400,
    );
  const { widthPx, heightPx } = sheetPixelSize(dpi);
  const svg = renderEcgSvgInPixels(record, sheetOptions, widthPx, heightPx);
  // At density 72 one SVG px is one image pixel; the PNG then records the real DPI (pHYs).
  const png = await sharp(Buffer.from(svg, "utf8"), { density: 72 })
    .flatten({ background: "#ffffff" })
    .withMetadata({ density: dpi })
    .png(palette ? { palette: true, colours: 256, effort: 1 } : {})
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

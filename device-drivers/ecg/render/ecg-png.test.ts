import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { DxgateError } from "../../../common/errors.ts";
import { renderEcgPng, sheetPixelSize } from "./ecg-png.ts";
import { SHEET_GEOMETRY } from "./sheet-layout.ts";
import { syntheticEcgRecord } from "./test-support.ts";

interface Ink {
  /** Near-black pixels (trace, text, calibration). */
  black: number;
  /** Reddish grid pixels. */
  grid: number;
}

/** Count pixel kinds inside the grid area of a PNG rendered at `dpi`. */
async function inkInGrid(png: Uint8Array, dpi: number): Promise<Ink> {
  const g = SHEET_GEOMETRY;
  const px = (value: number) => Math.round((value / 25.4) * dpi);
  const { data, info } = await sharp(png)
    .extract({
      left: px(g.gridXMm),
      top: px(g.gridYMm),
      width: px(g.gridWidthMm),
      height: px(g.gridHeightMm),
    })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const ink: Ink = { black: 0, grid: 0 };
  for (let i = 0; i < data.length; i += info.channels) {
    const [r, g2, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
    if (r < 90 && g2 < 90 && b < 90) ink.black++;
    else if (r > 180 && r - g2 > 40 && r - b > 40) ink.grid++;
  }
  return ink;
}

test("the preview is A4 landscape at 150 DPI (1754 × 1240 px) and records its resolution", async () => {
  const png = await renderEcgPng(syntheticEcgRecord());
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, "png");
  assert.deepEqual([meta.width, meta.height], [1754, 1240]);
  assert.deepEqual(sheetPixelSize(150), { widthPx: 1754, heightPx: 1240 });
  assert.equal(Math.round(meta.density ?? 0), 150);
});

test("the print version is 300 DPI (3508 × 2480 px)", async () => {
  const png = await renderEcgPng(syntheticEcgRecord({ seconds: 3 }), { dpi: 300 });
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [3508, 2480]);
  assert.equal(Math.round(meta.density ?? 0), 300);
});

test("the image shows the grid and the traces: far more black ink in the grid than a sheet without waveform", async () => {
  const withTrace = await inkInGrid(await renderEcgPng(syntheticEcgRecord()), 150);
  const record = syntheticEcgRecord();
  record.rhythm = { samplingFrequencyHz: 500, leads: [] };
  const without = await inkInGrid(await renderEcgPng(record), 150);
  const area = Math.round((260 / 25.4) * 150) * Math.round((160 / 25.4) * 150);
  assert.ok(withTrace.grid > area * 0.05, `grid pixels ${withTrace.grid} of ${area}`);
  assert.ok(without.grid > area * 0.05, `grid pixels ${without.grid} of ${area}`);
  assert.ok(withTrace.black > 8000, `black pixels with trace: ${withTrace.black}`);
  assert.ok(
    withTrace.black > 4 * without.black,
    `black pixels ${withTrace.black} vs ${without.black} without waveform`,
  );
});

test("the preview is palette-quantised to less than half the size with the same grid and trace ink", async () => {
  const record = syntheticEcgRecord();
  const palette = await renderEcgPng(record);
  const full = await renderEcgPng(record, { palette: false });
  assert.equal((await sharp(palette).metadata()).isPalette, true);
  assert.equal((await sharp(full).metadata()).isPalette, false);
  assert.ok(palette.byteLength * 2 < full.byteLength, `${palette.byteLength} vs ${full.byteLength} bytes`);
  const [a, b] = [await inkInGrid(palette, 150), await inkInGrid(full, 150)];
  assert.ok(Math.abs(a.black - b.black) < b.black * 0.1, `black ${a.black} vs ${b.black}`);
  assert.ok(Math.abs(a.grid - b.grid) < b.grid * 0.1, `grid ${a.grid} vs ${b.grid}`);
});

test("a resolution outside 50–600 DPI is refused with a stable code", async () => {
  for (const dpi of [0, 20, 1200, Number.NaN])
    await assert.rejects(
      renderEcgPng(syntheticEcgRecord({ seconds: 1 }), { dpi }),
      (error: unknown) => error instanceof DxgateError && error.code === "ECG_RENDER_OPTION_INVALID",
    );
});

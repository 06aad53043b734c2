/**
 * Text on the sheet: escaping for XML, and a width estimate so header lines can be cut to fit
 * their column (SVG has no text wrapping, and librsvg would draw an over-long statement across the
 * next column). The estimate is deliberately generous so a cut line never overflows.
 */

/**
 * `text` without the characters XML 1.0 forbids even when escaped (C0 controls other than tab,
 * LF and CR, lone surrogates, U+FFFE and U+FFFF): a cart that pads a name with NULs must not make
 * the sheet unparsable.
 */
export function withoutXmlForbidden(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const forbidden =
      (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) ||
      (code >= 0xd800 && code <= 0xdfff) || // a lone surrogate (pairs iterate as one code point)
      code === 0xfffe ||
      code === 0xffff;
    if (!forbidden) out += char;
  }
  return out;
}

/** Text safe as XML character data or a double- or single-quoted attribute value. */
export function escapeXml(text: string): string {
  return withoutXmlForbidden(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u;

/** Estimated advance width in mm of `text` at `fontSizeMm` (CJK 1 em, everything else 0.62 em). */
export function estimateTextWidthMm(text: string, fontSizeMm: number): number {
  let ems = 0;
  for (const char of text) ems += WIDE.test(char) ? 1 : 0.62;
  return ems * fontSizeMm;
}

/** `text` cut (with "…") so its estimated width fits `maxWidthMm`. */
export function fitText(text: string, maxWidthMm: number, fontSizeMm: number): string {
  if (estimateTextWidthMm(text, fontSizeMm) <= maxWidthMm) return text;
  const chars = Array.from(text);
  const ellipsis = estimateTextWidthMm("…", fontSizeMm);
  let width = 0;
  let kept = 0;
  for (const char of chars) {
    const next = width + estimateTextWidthMm(char, fontSizeMm);
    if (next + ellipsis > maxWidthMm) break;
    width = next;
    kept++;
  }
  return `${chars.slice(0, kept).join("").trimEnd()}…`;
}

/** A coordinate in mm with at most 2 decimals (0.01 mm is far below what print or screen resolve). */
export function mm(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return String(rounded === 0 ? 0 : rounded);
}

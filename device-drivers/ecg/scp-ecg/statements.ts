/**
 * Interpretive statements. Section 8 (full text, EN 1064 5.11) and section 11 (universal statement
 * codes, 5.14) share a layout: confirmation flag (1), date (4) and time (3) of the interpretation,
 * statement count (1), then per statement a sequence number (1), a length (2) and the bytes —
 * section 8 zero-terminated text; section 11 a type byte (1 coded acronyms, 2 full text, 3 logic)
 * and zero-separated text.
 */
import { type ByteWindow, ByteWriter } from "./bytes.ts";
import { encodeText, type ScpCharacterSet } from "./text.ts";

export function readStatements(
  body: ByteWindow,
  sectionId: 8 | 11,
  decode: (bytes: Uint8Array) => string,
): string[] {
  if (body.length < 9) return [];
  const count = body.u8(8, "number of statements");
  const statements: string[] = [];
  let offset = 9;
  for (let index = 0; index < count && offset + 3 <= body.length; index++) {
    const length = body.u16(offset + 1, "statement length");
    const end = Math.min(body.length, offset + 3 + length);
    const bytes = body.bytes.subarray(body.start + offset + 3, body.start + end);
    offset = end;
    if (sectionId === 8) {
      pushText(statements, decode(bytes));
      continue;
    }
    // Type 3 is statement logic (how statements combine), not a statement.
    if (bytes.length < 1 || bytes[0] === 3) continue;
    const parts = splitOnNul(bytes.subarray(1))
      .map(decode)
      .filter((part) => part !== "");
    pushText(statements, parts.join(" "));
  }
  return statements;
}

function pushText(statements: string[], text: string): void {
  // Carts put one statement per line in a single field as often as one per field.
  for (const line of text.split(/\r\n|\r|\n/)) {
    const trimmed = line.trim();
    if (trimmed !== "") statements.push(trimmed);
  }
}

function splitOnNul(bytes: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let index = 0; index <= bytes.length; index++) {
    if (index === bytes.length || bytes[index] === 0) {
      if (index > start) parts.push(bytes.subarray(start, index));
      start = index + 1;
    }
  }
  return parts;
}

/** Section 8 body: unconfirmed statements, dated with the acquisition when known. */
export function writeSection8(
  statements: readonly string[],
  acquisition: { date?: string; time?: string },
  characterSet: ScpCharacterSet,
): Uint8Array {
  const date = /^(\d{4})(\d{2})(\d{2})$/.exec(acquisition.date ?? "");
  const time = /^(\d{2})(\d{2})(\d{2})/.exec(acquisition.time ?? "");
  const kept = statements.slice(0, 255);
  const writer = new ByteWriter()
    .u8(0) // original (not confirmed) interpretation
    .u16(date ? Number(date[1]) : 0)
    .u8(date ? Number(date[2]) : 0)
    .u8(date ? Number(date[3]) : 0)
    .u8(time ? Number(time[1]) : 0)
    .u8(time ? Number(time[2]) : 0)
    .u8(time ? Number(time[3]) : 0)
    .u8(kept.length);
  kept.forEach((statement, index) => {
    const bytes = encodeText(statement, characterSet, 0xffff);
    writer
      .u8(index + 1)
      .u16(bytes.length)
      .bytes(bytes);
  });
  return writer.padToEven().toBytes();
}

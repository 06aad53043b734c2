import assert from "node:assert/strict";
import { test } from "node:test";
import type { LineDecoder, LineEvent } from "../line-decoder.ts";
import { encodeScpEcg } from "./encode.ts";
import { SCP_ERROR_CODES } from "./errors.ts";
import { createScpEcgLineDecoder, SCP_GARBAGE } from "./line-decoder.ts";
import {
  recordFromSections,
  section3Body,
  seededRandom,
  syntheticLeads,
  syntheticRecord,
} from "./test-support.ts";

/** A small record (2 leads, 0.1 s) whose patient ID tells records apart. */
function smallRecord(id: string): Uint8Array {
  return encodeScpEcg(
    syntheticRecord(
      { patient: { id } },
      syntheticLeads({ names: ["I", "II"], seconds: 0.1, seed: id.length }),
    ),
  );
}

const ascii = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
};

function feed(decoder: LineDecoder, chunks: Uint8Array[]): LineEvent[] {
  return [...chunks.flatMap((chunk) => decoder.push(chunk)), ...decoder.end()];
}

function summary(events: LineEvent[]): string[] {
  return events.map((event) => {
    if (event.kind === "record") return `record ${event.record.patient.id}`;
    if (event.kind === "discarded") return `discarded ${event.code} ${event.byteCount}`;
    return "receiving";
  });
}

/** Every byte pushed is in exactly one record or discard. */
function accountedBytes(events: LineEvent[]): number {
  return events.reduce(
    (sum, event) =>
      sum +
      (event.kind === "record" ? (event.raw?.length ?? 0) : event.kind === "discarded" ? event.byteCount : 0),
    0,
  );
}

test("a record split at every byte boundary arrives exactly once, with its raw bytes", () => {
  const record = smallRecord("A1");
  for (let split = 1; split < record.length; split++) {
    const events = feed(createScpEcgLineDecoder(), [record.subarray(0, split), record.subarray(split)]);
    assert.deepEqual(summary(events), ["receiving", "record A1"], `split at ${split}`);
    const delivered = events.find((event) => event.kind === "record");
    assert.deepEqual(delivered?.kind === "record" ? delivered.raw : undefined, record);
  }
});

test("one byte at a time works too", () => {
  const record = smallRecord("B2");
  const chunks = Array.from(record, (byte) => Uint8Array.of(byte));
  assert.deepEqual(summary(feed(createScpEcgLineDecoder(), chunks)), ["receiving", "record B2"]);
});

test("'receiving' as soon as a verified record head is in, before the record is complete", () => {
  const decoder = createScpEcgLineDecoder();
  const record = smallRecord("C3");
  assert.deepEqual(summary(decoder.push(record.subarray(0, 200))), ["receiving"]);
  assert.deepEqual(summary(decoder.push(record.subarray(200))), ["record C3"]);
});

test("records run together in one read all arrive, in order", () => {
  const records = ["R1", "R22", "R333"].map(smallRecord);
  assert.deepEqual(summary(feed(createScpEcgLineDecoder(), [concat(...records)])), [
    "receiving",
    "record R1",
    "receiving",
    "record R22",
    "receiving",
    "record R333",
  ]);
});

test("garbage before, between and after records is reported with its size; the records arrive", () => {
  const stream = concat(
    ascii("noise!!"),
    smallRecord("G1"),
    ascii("SCPECG but no record"),
    smallRecord("G2"),
    ascii("tail"),
  );
  const events = feed(createScpEcgLineDecoder(), [stream]);
  assert.deepEqual(summary(events), [
    `discarded ${SCP_GARBAGE} 7`,
    "receiving",
    "record G1",
    `discarded ${SCP_GARBAGE} 20`,
    "receiving",
    "record G2",
    `discarded ${SCP_GARBAGE} 4`,
  ]);
  assert.equal(accountedBytes(events), stream.length);
});

test("a record with a corrupt byte is discarded with SCP_BAD_CRC and the next one still arrives", () => {
  const damaged = smallRecord("D1");
  damaged[damaged.length - 10] = (damaged[damaged.length - 10] ?? 0) ^ 0xff;
  const next = smallRecord("D2");
  const events = feed(createScpEcgLineDecoder(), [concat(damaged, next)]);
  assert.deepEqual(summary(events), [
    "receiving",
    `discarded ${SCP_ERROR_CODES.badCrc} ${damaged.length}`,
    "receiving",
    "record D2",
  ]);
});

test("a corrupted length field does not swallow the record after it", () => {
  const damaged = smallRecord("L1");
  // Stated length one byte short: the record CRC then fails, and the search resumes inside it.
  new DataView(damaged.buffer).setUint32(2, damaged.length - 1, true);
  const events = feed(createScpEcgLineDecoder(), [concat(damaged, smallRecord("L2"))]);
  assert.deepEqual(summary(events).slice(-2), ["receiving", "record L2"]);
  assert.equal(accountedBytes(events), damaged.length + smallRecord("L2").length);
});

test("a header stating an absurd length is dropped at once, not waited for", () => {
  const liar = smallRecord("X1").subarray(0, 200).slice();
  // Section 0 (and its CRC) intact, record length 4 GiB: above any maximum.
  new DataView(liar.buffer).setUint32(2, 0xfffffff0, true);
  const decoder = createScpEcgLineDecoder();
  const events = decoder.push(concat(liar, smallRecord("X2")));
  assert.deepEqual(summary(events), [`discarded ${SCP_GARBAGE} 200`, "receiving", "record X2"]);
  const garbage = events[0];
  assert.match(garbage?.kind === "discarded" ? garbage.reason : "", /more than the accepted maximum/);
});

test("the maximum record size is configurable", () => {
  const record = smallRecord("M1");
  const strict = feed(createScpEcgLineDecoder({ maxRecordBytes: record.length - 1 }), [record]);
  assert.deepEqual(summary(strict), [`discarded ${SCP_GARBAGE} ${record.length}`]);
  assert.deepEqual(summary(feed(createScpEcgLineDecoder({ maxRecordBytes: record.length }), [record])), [
    "receiving",
    "record M1",
  ]);
});

test("a record cut short by a new complete record is discarded; the new one is delivered without waiting", () => {
  const cut = smallRecord("K1").subarray(0, 300);
  const next = smallRecord("K2");
  const decoder = createScpEcgLineDecoder();
  const events = decoder.push(concat(cut, next));
  assert.deepEqual(summary(events), [
    "receiving",
    `discarded ${SCP_ERROR_CODES.truncated} 300`,
    "receiving",
    "record K2",
  ]);
});

test("a long record cut short is not waited for: the complete record after it arrives in the same read", () => {
  const long = encodeScpEcg(syntheticRecord({ patient: { id: "W1" } }, syntheticLeads({ seconds: 4 })));
  const next = smallRecord("W2");
  assert.ok(300 + next.length < long.length);
  const events = createScpEcgLineDecoder().push(concat(long.subarray(0, 300), next));
  assert.deepEqual(summary(events), [
    "receiving",
    `discarded ${SCP_ERROR_CODES.truncated} 300`,
    "receiving",
    "record W2",
  ]);
});

test("end() drops an incomplete record as SCP_TRUNCATED and starts afresh", () => {
  const decoder = createScpEcgLineDecoder();
  const record = smallRecord("E1");
  decoder.push(record.subarray(0, 250));
  assert.deepEqual(summary(decoder.end()), [`discarded ${SCP_ERROR_CODES.truncated} 250`]);
  assert.deepEqual(summary(feed(decoder, [record])), ["receiving", "record E1"]);
});

test("a CRC-valid record that cannot be decoded is discarded with the decoder's code", () => {
  const noRhythm = recordFromSections({ 3: section3Body([{ code: 1, first: 1, last: 10 }]) });
  assert.deepEqual(summary(feed(createScpEcgLineDecoder(), [noRhythm])), [
    "receiving",
    `discarded ${SCP_ERROR_CODES.unsupported} ${noRhythm.length}`,
  ]);
});

test("noisy line, random read sizes: every intact record arrives, in order, and every byte is accounted for", () => {
  const random = seededRandom(20240601);
  const ids = Array.from({ length: 25 }, (_, index) => `N${index}`);
  const parts: Uint8Array[] = [];
  for (const id of ids) {
    const noise = Uint8Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 256));
    // Sometimes the noise carries a stray marker, to tempt the framer.
    if (random() < 0.3) parts.push(concat(noise, ascii("SCPECG"), noise));
    else parts.push(noise);
    parts.push(smallRecord(id));
  }
  const stream = concat(...parts);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < stream.length; ) {
    const size = 1 + Math.floor(random() * 400);
    chunks.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  const events = feed(createScpEcgLineDecoder(), chunks);
  assert.deepEqual(
    events
      .filter((event) => event.kind === "record")
      .map((event) => (event.kind === "record" ? event.record.patient.id : "")),
    ids,
  );
  assert.ok(events.every((event) => event.kind !== "discarded" || event.code === SCP_GARBAGE));
  assert.equal(accountedBytes(events), stream.length);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteWriter } from "./bytes.ts";
import { decodeScpEcg } from "./decode.ts";
import { encodeScpEcg } from "./encode.ts";
import { SCP_ERROR_CODES } from "./errors.ts";
import { expandBimodal, storedValueCount } from "./signal-reconstruction.ts";
import {
  fixRecordCrc,
  fixSectionCrc,
  int16Bytes,
  leadDataBody,
  recordFromSections,
  section3Body,
  sectionOffset,
  syntheticLeads,
  syntheticRecord,
} from "./test-support.ts";

const small = () =>
  encodeScpEcg(
    syntheticRecord({ patient: { id: "T1" } }, syntheticLeads({ names: ["I", "II"], seconds: 0.2 })),
  );

test("one changed byte anywhere fails the record CRC", () => {
  const record = small();
  for (const offset of [30, sectionOffset(record, 6) + 40, record.length - 1]) {
    const damaged = record.slice();
    damaged[offset] = (damaged[offset] ?? 0) ^ 0x10;
    // Section 0 (offset 30) is checked as soon as it is read, the record before any other section.
    assert.throws(() => decodeScpEcg(damaged), {
      code: SCP_ERROR_CODES.badCrc,
      message: offset === 30 ? /section 0 CRC mismatch/ : /record CRC mismatch/,
    });
  }
});

test("a section whose CRC does not match is rejected even when the record CRC was recomputed", () => {
  const record = small();
  const damaged = record.slice();
  damaged[sectionOffset(record, 3) + 20] = (damaged[sectionOffset(record, 3) + 20] ?? 0) ^ 0x01;
  assert.throws(() => decodeScpEcg(fixRecordCrc(damaged)), {
    code: SCP_ERROR_CODES.badCrc,
    message: /section 3 CRC/,
  });
});

test("every truncation of a record is SCP_TRUNCATED, never a crash", () => {
  const record = small();
  for (let length = 0; length < record.length; length++) {
    assert.throws(
      () => decodeScpEcg(record.subarray(0, length)),
      { code: SCP_ERROR_CODES.truncated },
      `${length} bytes`,
    );
  }
});

test("bytes that are not SCP-ECG are SCP_NOT_SCP", () => {
  const dicomHead = new Uint8Array(200);
  dicomHead.set(new TextEncoder().encode("DICM"), 128);
  const noMarker = small();
  noMarker.fill(0, 16, 22);
  for (const bytes of [
    new TextEncoder().encode("this is a text file, not an ECG at all"),
    dicomHead,
    noMarker,
  ]) {
    assert.throws(() => decodeScpEcg(bytes), { code: SCP_ERROR_CODES.notScp });
  }
});

test("a header stating 4 GiB on a small input fails as truncated at once", () => {
  const record = small();
  new DataView(record.buffer).setUint32(2, 0xffffffff, true);
  assert.throws(() => decodeScpEcg(record), { code: SCP_ERROR_CODES.truncated, message: /4294967295 bytes/ });
});

test("a section pointer outside the record is SCP_MALFORMED", () => {
  const record = small();
  const view = new DataView(record.buffer);
  // Section 0's pointer 6 (the 7th field): move its index beyond the end.
  view.setUint32(6 + 16 + 6 * 10 + 6, record.length + 100, true);
  assert.throws(() => decodeScpEcg(fixSectionCrc(record, 6)), {
    code: SCP_ERROR_CODES.malformed,
    message: /section 6/,
  });
});

test("a record without rhythm data (no section 6) is SCP_UNSUPPORTED", () => {
  const bytes = recordFromSections({ 3: section3Body([{ code: 1, first: 1, last: 10 }]) });
  assert.throws(() => decodeScpEcg(bytes), { code: SCP_ERROR_CODES.unsupported, message: /section 6/ });
});

test("lead counts are checked against the bytes before anything is allocated", () => {
  const section3 = new ByteWriter().u8(255).u8(0).u32(1).u32(10).u8(1).padToEven().toBytes();
  const bytes = recordFromSections({
    3: section3,
    6: leadDataBody({ avm: 1000, intervalUs: 2000, difference: 0 }, []),
  });
  assert.throws(() => decodeScpEcg(bytes), {
    code: SCP_ERROR_CODES.truncated,
    message: /255 lead definitions/,
  });
});

test("a lead stated at 4 billion samples: the data decides how many there are, and a note says so", () => {
  const bytes = recordFromSections({
    3: section3Body([{ code: 2, first: 1, last: 0xffffffff }]),
    6: leadDataBody({ avm: 1000, intervalUs: 2000, difference: 0 }, [int16Bytes([1, 2, 3, 4, 5])]),
  });
  const record = decodeScpEcg(bytes);
  assert.deepEqual([...(record.rhythm.leads[0]?.samples ?? [])], [1, 2, 3, 4, 5]);
  assert.match(record.notes?.join(" ") ?? "", /5 of the 4294967295 samples/);
});

test("rhythm coded with section 2's own Huffman table", () => {
  // One table: "0" → 0, "10" → 5, "11" + 16 bits → that value.
  const stored = (prefix: string) => [...prefix].reverse().reduce((sum, bit) => sum * 2 + Number(bit), 0);
  const section2 = new ByteWriter()
    .u16(1)
    .u16(3)
    .u8(1)
    .u8(1)
    .u8(1)
    .i16(0)
    .u32(stored("0"))
    .u8(2)
    .u8(2)
    .u8(1)
    .i16(5)
    .u32(stored("10"))
    .u8(2)
    .u8(18)
    .u8(1)
    .i16(0)
    .u32(stored("11"))
    .toBytes();
  // Samples 5, 0, -1000, 5 stored as first differences: 5, -5, -1000, 1005.
  const bitsText = `10 11${(-5 & 0xffff).toString(2).padStart(16, "0")} 11${(-1000 & 0xffff).toString(2).padStart(16, "0")} 11${(1005).toString(2).padStart(16, "0")}`;
  const clean = bitsText.replace(/\s/g, "");
  const data = new Uint8Array(Math.ceil(clean.length / 16) * 2);
  for (let index = 0; index < clean.length; index++)
    if (clean[index] === "1") data[index >> 3]! |= 0x80 >> (index & 7);
  const bytes = recordFromSections({
    2: section2,
    3: section3Body([{ code: 1, first: 1, last: 4 }]),
    6: leadDataBody({ avm: 2500, intervalUs: 2000, difference: 1 }, [data]),
  });
  assert.deepEqual([...(decodeScpEcg(bytes).rhythm.leads[0]?.samples ?? [])], [5, 0, -1000, 5]);
});

/** Sections 4 and 5 for reference beat tests: `medians` per lead, QRS zones around `fiducials`. */
function referenceSections(options: {
  medians: number[][];
  medianAvm: number;
  referenceFiducial: number;
  complexes: Array<{ type: number; fiducial: number; before: number; after: number }>;
  protectedZones?: Array<[number, number]>;
}) {
  const section4 = new ByteWriter()
    .u16(Math.round(((options.medians[0]?.length ?? 0) * 1000) / 500))
    .u16(options.referenceFiducial)
    .u16(options.complexes.length);
  for (const complex of options.complexes) {
    section4
      .u16(complex.type)
      .u32(complex.fiducial - complex.before)
      .u32(complex.fiducial)
      .u32(complex.fiducial + complex.after);
  }
  for (const [start, end] of options.protectedZones ?? []) section4.u32(start).u32(end);
  return {
    4: section4.padToEven().toBytes(),
    5: leadDataBody(
      { avm: options.medianAvm, intervalUs: 2000, difference: 0 },
      options.medians.map(int16Bytes),
    ),
  };
}

test("reference beat subtraction: the beat is added back in every type-0 zone, in the rhythm's units", () => {
  const [leadI, leadII] = syntheticLeads({ names: ["I", "II"], seconds: 2 });
  const originals = [leadI!.samples, leadII!.samples];
  const medians = [0, 1].map((lead) =>
    Array.from({ length: 100 }, (_, index) => (lead + 1) * 10 * Math.round(50 - Math.abs(index - 50))),
  );
  const referenceFiducial = 50;
  const complexes = [
    { type: 0, fiducial: 200, before: 40, after: 49 },
    { type: 1, fiducial: 500, before: 40, after: 49 }, // another beat type: nothing was subtracted
    { type: 0, fiducial: 800, before: 40, after: 49 },
  ];
  // The median is in units twice the rhythm's: subtract 2 × median (in rhythm units) in the zones.
  const residuals = originals.map((samples, lead) => {
    const residual = Int32Array.from(samples);
    for (const complex of complexes.filter((item) => item.type === 0)) {
      for (
        let sample = complex.fiducial - complex.before;
        sample <= complex.fiducial + complex.after;
        sample++
      ) {
        const medianIndex = referenceFiducial - complex.fiducial + sample - 1;
        residual[sample - 1]! -= 2 * (medians[lead]?.[medianIndex] ?? 0);
      }
    }
    return residual;
  });
  const bytes = recordFromSections({
    3: section3Body(
      [
        { code: 1, first: 1, last: 1000 },
        { code: 2, first: 1, last: 1000 },
      ],
      0x05, // bit 0: reference beats subtracted; bit 2: simultaneous
    ),
    ...referenceSections({ medians, medianAvm: 5000, referenceFiducial, complexes }),
    6: leadDataBody({ avm: 2500, intervalUs: 2000, difference: 0 }, residuals.map(int16Bytes)),
  });
  const record = decodeScpEcg(bytes);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => [...lead.samples]),
    originals.map((samples) => [...samples]),
  );
  assert.equal(record.medianBeats?.leads[1]?.nanovoltsPerUnit, 5000);
  assert.deepEqual([...(record.medianBeats?.leads[1]?.samples ?? [])], medians[1]);
});

test("reference beat subtraction flagged without sections 4 and 5 is SCP_UNSUPPORTED", () => {
  const bytes = recordFromSections({
    3: section3Body([{ code: 1, first: 1, last: 3 }], 0x05),
    6: leadDataBody({ avm: 2500, intervalUs: 2000, difference: 0 }, [int16Bytes([1, 2, 3])]),
  });
  assert.throws(() => decodeScpEcg(bytes), { code: SCP_ERROR_CODES.unsupported, message: /subtracted/ });
});

test("bimodal layout: protected samples one by one, the rest one value per block of `factor`", () => {
  // 12 samples, protected zone 5–7, factor 4: [1–4], 5, 6, 7, [8–11], [12].
  assert.equal(storedValueCount(1, 12, [{ start: 5, end: 7 }], 4), 6);
  // Block values sit at block centres (positions 1.5, 8.5 and 11), protected samples at their own;
  // the samples between are interpolated, those before the first centre hold its value.
  const expanded = expandBimodal(Int32Array.of(3, 100, 200, 300, 17, 20), 1, 12, [{ start: 5, end: 7 }], 4);
  assert.deepEqual([...expanded], [3, 3, 22, 61, 100, 200, 300, 187, 74, 18, 19, 20]);
  // Values that run out early give a shorter lead, not invented samples.
  assert.equal(expandBimodal(Int32Array.of(3, 100), 1, 12, [{ start: 5, end: 7 }], 4).length, 5);
});

test("bimodal compression: protected zones exact, decimated stretches interpolated back to the full rate", () => {
  const length = 1000;
  const factor = 4;
  const original = Int32Array.from({ length }, (_, index) =>
    Math.round(1000 * Math.sin((2 * Math.PI * index) / 200)),
  );
  const zones: Array<[number, number]> = [
    [181, 260],
    [581, 660],
  ];
  for (const [start, end] of zones)
    for (let sample = start; sample <= end; sample++) original[sample - 1] = sample % 2 ? 700 : -700;
  // Encoder side, per EN 1064's description: full-rate samples in the zones, block averages elsewhere.
  const stored: number[] = [];
  for (let position = 0; position < length; ) {
    const sample = position + 1;
    const zone = zones.find(([start, end]) => sample >= start && sample <= end);
    if (zone) {
      stored.push(original[position] ?? 0);
      position++;
      continue;
    }
    const nextZone = zones.find(([start]) => start > sample);
    const block = Math.min(factor, (nextZone ? nextZone[0] : length + 1) - sample);
    let sum = 0;
    for (let offset = 0; offset < block; offset++) sum += original[position + offset] ?? 0;
    stored.push(Math.round(sum / block));
    position += block;
  }
  const bytes = recordFromSections({
    3: section3Body([{ code: 2, first: 1, last: length }]),
    ...referenceSections({
      medians: [Array.from({ length: 100 }, () => 0)],
      medianAvm: 2500,
      referenceFiducial: 50,
      complexes: zones.map(([start, end]) => ({
        type: 0,
        fiducial: start + 40,
        before: 40,
        after: end - start - 40,
      })),
      protectedZones: zones,
    }),
    6: leadDataBody({ avm: 2500, intervalUs: 2000 * factor, difference: 0, flag: 1 }, [int16Bytes(stored)]),
  });
  const record = decodeScpEcg(bytes);
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  const decoded = record.rhythm.leads[0]?.samples ?? new Int32Array(0);
  assert.equal(decoded.length, length);
  let worst = 0;
  for (let index = 0; index < length; index++) {
    const sample = index + 1;
    if (zones.some(([start, end]) => sample >= start && sample <= end)) {
      assert.equal(decoded[index], original[index], `protected sample ${sample}`);
    } else if (
      sample > 4 &&
      sample < length - 4 &&
      !zones.some(([start, end]) => sample > start - 6 && sample < end + 6)
    ) {
      worst = Math.max(worst, Math.abs((decoded[index] ?? 0) - (original[index] ?? 0)));
    }
  }
  // A 2.5 Hz sine of amplitude 1000 decimated by 4 at 500 Hz: well within 1 %.
  assert.ok(worst <= 10, `largest error ${worst}`);
});

test("leads recorded over different samples share one timeline, zero outside their stretch, with a note", () => {
  const bytes = recordFromSections({
    3: section3Body(
      [
        { code: 1, first: 1, last: 4 },
        { code: 2, first: 5, last: 8 },
      ],
      0,
    ),
    6: leadDataBody({ avm: 1000, intervalUs: 1000, difference: 0 }, [
      int16Bytes([1, 2, 3, 4]),
      int16Bytes([5, 6, 7, 8]),
    ]),
  });
  const record = decodeScpEcg(bytes);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => [lead.name, [...lead.samples]]),
    [
      ["I", [1, 2, 3, 4, 0, 0, 0, 0]],
      ["II", [0, 0, 0, 0, 5, 6, 7, 8]],
    ],
  );
  assert.match(record.notes?.join(" ") ?? "", /not all recorded over the same samples \(I 1–4, II 5–8\)/);
});

test("two leads with the same code keep distinct names; unknown codes keep their number", () => {
  const bytes = recordFromSections({
    3: section3Body([
      { code: 4, first: 1, last: 2 },
      { code: 4, first: 1, last: 2 },
      { code: 250, first: 1, last: 2 },
    ]),
    6: leadDataBody({ avm: 1000, intervalUs: 1000, difference: 0 }, [
      int16Bytes([1, 2]),
      int16Bytes([3, 4]),
      int16Bytes([5, 6]),
    ]),
  });
  assert.deepEqual(
    decodeScpEcg(bytes).rhythm.leads.map((lead) => lead.name),
    ["V2", "V2 (2)", "SCP lead 250"],
  );
});

test("reference beats are sized by their data, not by a header stating 65 seconds", () => {
  const bytes = recordFromSections({
    3: section3Body([{ code: 1, first: 1, last: 3 }]),
    4: new ByteWriter().u16(65000).u16(0).u16(0).toBytes(),
    5: leadDataBody({ avm: 2500, intervalUs: 1000, difference: 0 }, [int16Bytes([7, 8, 9])]),
    6: leadDataBody({ avm: 2500, intervalUs: 1000, difference: 0 }, [int16Bytes([1, 2, 3])]),
  });
  const record = decodeScpEcg(bytes);
  assert.deepEqual([...(record.medianBeats?.leads[0]?.samples ?? [])], [7, 8, 9]);
  assert.match(record.notes?.join(" ") ?? "", /reference beats hold 3 of the 65000 samples/);
});

test("unreadable reference beats the rhythm does not need cost only the median beats", () => {
  const bytes = recordFromSections({
    3: section3Body([{ code: 1, first: 1, last: 3 }]),
    5: leadDataBody({ avm: 2500, intervalUs: 1000, difference: 7 }, [int16Bytes([7, 8, 9])]),
    6: leadDataBody({ avm: 2500, intervalUs: 1000, difference: 0 }, [int16Bytes([1, 2, 3])]),
  });
  const record = decodeScpEcg(bytes);
  assert.deepEqual([...(record.rhythm.leads[0]?.samples ?? [])], [1, 2, 3]);
  assert.equal(record.medianBeats, undefined);
  assert.match(
    record.notes?.join(" ") ?? "",
    /reference beats \(section 5\) unreadable \(section 5: difference encoding 7/,
  );
});

test("a broken pointer to a section the decoder does not use (10, a manufacturer's) costs only a note", () => {
  const record = small();
  const view = new DataView(record.buffer);
  // Section 0's pointer 10 (the 11th field, section 10, absent): now 100 bytes far outside the record.
  const pointer = 6 + 16 + 10 * 10;
  view.setUint32(pointer + 2, 100, true);
  view.setUint32(pointer + 6, record.length + 1000, true);
  const decoded = decodeScpEcg(fixSectionCrc(record, 6));
  assert.equal(decoded.rhythm.leads.length, 2);
  assert.match(
    decoded.notes?.join(" ") ?? "",
    /section 10 at bytes .* outside the .*; the section is not used/,
  );
});

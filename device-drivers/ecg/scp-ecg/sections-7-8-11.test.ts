import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteWindow, ByteWriter } from "./bytes.ts";
import { readSection7, writeSection7 } from "./measurements.ts";
import { readStatements, writeSection8 } from "./statements.ts";
import { textDecoderFor } from "./text.ts";

const window = (bytes: Uint8Array) => new ByteWindow(bytes, 0, bytes.length, "section");
const ascii = textDecoderFor(0);

test("section 7: only an average RR interval gives the RR and the rate from it", () => {
  const body = new ByteWriter().u8(0).u8(0).u16(800).u16(29999).u16(0).toBytes();
  assert.deepEqual(readSection7(window(body)), { rrIntervalMs: 800, heartRateBpm: 75 });
});

test("section 7: 29999, 29998 and 19999 are codes, not values", () => {
  const body = new ByteWriter()
    .u8(1)
    .u8(0)
    .u16(29999)
    .u16(29999)
    .u16(29998) // P onset rejected
    .u16(29999)
    .u16(400)
    .u16(19999) // QRS offset: wave not present
    .u16(29999)
    .i16(29999)
    .i16(29999)
    .i16(-45)
    .toBytes();
  assert.deepEqual(readSection7(window(body)), { tAxisDeg: -45 });
});

test("section 7: pacemaker spikes and the QRS type list are stepped over to reach rate and QTc", () => {
  const body = new ByteWriter()
    .u8(1) // one block
    .u8(2) // two spikes
    .u16(1000)
    .u16(29999)
    .u16(100)
    .u16(29999)
    .u16(260)
    .u16(350)
    .u16(700)
    .i16(10)
    .i16(20)
    .i16(30)
    .u16(5)
    .i16(900)
    .u16(505)
    .i16(-900) // spikes: time, amplitude
    .bytes(new Uint8Array(12)) // spike details
    .u16(3)
    .u8(0)
    .u8(0)
    .u8(1) // QRS types
    .u16(61)
    .u16(29999)
    .u16(440)
    .u8(1)
    .u16(0)
    .toBytes();
  assert.deepEqual(readSection7(window(body)), {
    rrIntervalMs: 1000,
    heartRateBpm: 61,
    prIntervalMs: 160,
    qrsDurationMs: 90,
    qtIntervalMs: 440,
    qtcIntervalMs: 440,
    pAxisDeg: 10,
    qrsAxisDeg: 20,
    tAxisDeg: 30,
  });
});

test("section 7 written from a long PR still reads back the same intervals", () => {
  const measurements = { prIntervalMs: 420, qrsDurationMs: 110, qtIntervalMs: 500 };
  assert.deepEqual(readSection7(window(writeSection7(measurements))), measurements);
});

test("section 8: one statement per field or several per line, in order", () => {
  const body = writeSection8(
    ["Sinus rhythm", "Left axis deviation\r\nAbnormal ECG"],
    { date: "20240101" },
    "utf-8",
  );
  assert.deepEqual(readStatements(window(body), 8, ascii), [
    "Sinus rhythm",
    "Left axis deviation",
    "Abnormal ECG",
  ]);
});

test("section 11: coded and text statements read, statement logic skipped", () => {
  const statement = (sequence: number, type: number, text: string) => {
    const bytes = Uint8Array.from([type, ...[...text].map((c) => c.charCodeAt(0))]);
    return new ByteWriter().u8(sequence).u16(bytes.length).bytes(bytes).toBytes();
  };
  const body = new ByteWriter()
    .u8(0)
    .bytes(new Uint8Array(7))
    .u8(3)
    .bytes(statement(1, 1, "SR\0NORM\0"))
    .bytes(statement(2, 3, "1&2\0"))
    .bytes(statement(3, 2, "Normal sinus rhythm\0"))
    .toBytes();
  assert.deepEqual(readStatements(window(body), 11, ascii), ["SR NORM", "Normal sinus rhythm"]);
});

test("a statement count larger than the section holds reads what is there", () => {
  const body = new ByteWriter()
    .u8(0)
    .bytes(new Uint8Array(7))
    .u8(200)
    .u8(1)
    .u16(4)
    .bytes(Uint8Array.of(0x4f, 0x4b, 0, 0))
    .toBytes();
  assert.deepEqual(readStatements(window(body), 8, ascii), ["OK"]);
});

/**
 * Section 7, global measurements (EN 1064 5.10): number of measurement blocks (reference beat
 * types + 1), pacemaker spike count, average RR and PP interval (ms); per block the P onset and
 * offset, QRS onset and offset and T offset (ms from the start of the reference beat) and the P,
 * QRS and T axes (degrees); then spikes (4 bytes each) and their details (6 bytes each), the QRS
 * count with a type byte per QRS, and finally ventricular rate, atrial rate, QTc, the QTc formula
 * and tagged fields. 29999 means "not computed", 29998 "rejected", 19999 "wave not present".
 *
 * Block 0 describes the dominant (reference) beat: PR = QRS onset − P onset, QRS = offset − onset,
 * QT = T offset − QRS onset. Section 10 (per-lead measurements) has nothing EcgRecord can hold.
 */
import type { EcgMeasurements } from "../ecg-record.ts";
import { type ByteWindow, ByteWriter } from "./bytes.ts";

const NOT_COMPUTED = 29999;

function valid(value: number): number | undefined {
  // 19999, 29998, 29999 and anything beyond are codes, not measurements; 0 is "not given".
  return value > 0 && value < 19999 ? value : undefined;
}

function validAxis(value: number): number | undefined {
  return value >= -360 && value <= 360 && value !== NOT_COMPUTED ? value : undefined;
}

export function readSection7(body: ByteWindow): EcgMeasurements | undefined {
  if (body.length < 6) return undefined;
  const blockCount = body.u8(0, "number of measurement blocks");
  const spikeCount = body.u8(1, "number of pacemaker spikes");
  const measurements: EcgMeasurements = {};
  const rr = valid(body.u16(2, "average RR interval"));
  if (rr !== undefined) measurements.rrIntervalMs = rr;
  if (blockCount > 0 && body.length >= 6 + 16) {
    const pOnset = valid(body.u16(6, "P onset"));
    const qrsOnset = valid(body.u16(10, "QRS onset"));
    const qrsOffset = valid(body.u16(12, "QRS offset"));
    const tOffset = valid(body.u16(14, "T offset"));
    if (pOnset !== undefined && qrsOnset !== undefined && qrsOnset > pOnset)
      measurements.prIntervalMs = qrsOnset - pOnset;
    if (qrsOnset !== undefined && qrsOffset !== undefined && qrsOffset > qrsOnset) {
      measurements.qrsDurationMs = qrsOffset - qrsOnset;
    }
    if (qrsOnset !== undefined && tOffset !== undefined && tOffset > qrsOnset)
      measurements.qtIntervalMs = tOffset - qrsOnset;
    const axes = [body.i16(16, "P axis"), body.i16(18, "QRS axis"), body.i16(20, "T axis")].map(validAxis);
    if (axes[0] !== undefined) measurements.pAxisDeg = axes[0];
    if (axes[1] !== undefined) measurements.qrsAxisDeg = axes[1];
    if (axes[2] !== undefined) measurements.tAxisDeg = axes[2];
  }
  // The additional measurements follow the blocks, the spikes and the QRS type list.
  let offset = 6 + blockCount * 16 + spikeCount * (4 + 6);
  if (offset + 2 <= body.length) {
    const qrsCount = body.u16(offset, "number of QRS complexes");
    offset += 2 + qrsCount;
    if (offset + 6 <= body.length) {
      const ventricularRate = valid(body.u16(offset, "ventricular rate"));
      const qtc = valid(body.u16(offset + 4, "QTc"));
      if (ventricularRate !== undefined) measurements.heartRateBpm = ventricularRate;
      if (qtc !== undefined) measurements.qtcIntervalMs = qtc;
    }
  }
  if (measurements.heartRateBpm === undefined && measurements.rrIntervalMs !== undefined) {
    measurements.heartRateBpm = Math.round(60000 / measurements.rrIntervalMs);
  }
  return Object.keys(measurements).length > 0 ? measurements : undefined;
}

/** Whether a record's measurements give section 7 anything to say. */
export function hasMeasurements(measurements: EcgMeasurements | undefined): measurements is EcgMeasurements {
  return measurements !== undefined && Object.values(measurements).some((value) => typeof value === "number");
}

/**
 * Section 7 body with one measurement block. EcgRecord holds intervals, not wave boundaries, so the
 * boundaries are placed to reproduce them: QRS onset at 400 ms into the reference beat (P onset
 * before it by PR), which section 7 readers turn back into the same intervals.
 */
export function writeSection7(measurements: EcgMeasurements): Uint8Array {
  const stated = (value: number | undefined) => (value === undefined ? undefined : Math.round(value));
  const pr = stated(measurements.prIntervalMs);
  const qrs = stated(measurements.qrsDurationMs);
  const qt = stated(measurements.qtIntervalMs);
  const qrsOnset = pr !== undefined && pr >= 400 ? pr + 100 : 400;
  const pOnset = pr !== undefined ? qrsOnset - pr : NOT_COMPUTED;
  const field = (value: number | undefined) =>
    value === undefined || value <= 0 || value >= 19999 ? NOT_COMPUTED : value;
  const axis = (value: number | undefined) =>
    value === undefined || Math.abs(value) > 360 ? NOT_COMPUTED : Math.round(value);
  const anyBoundary = pr !== undefined || qrs !== undefined || qt !== undefined;
  const rr =
    stated(measurements.rrIntervalMs) ??
    (measurements.heartRateBpm ? Math.round(60000 / measurements.heartRateBpm) : undefined);
  return new ByteWriter()
    .u8(1) // one measurement block: the reference beat
    .u8(0) // no pacemaker spikes
    .u16(field(rr))
    .u16(NOT_COMPUTED) // PP interval
    .u16(pOnset)
    .u16(NOT_COMPUTED) // P offset
    .u16(anyBoundary ? qrsOnset : NOT_COMPUTED)
    .u16(qrs !== undefined ? qrsOnset + qrs : NOT_COMPUTED)
    .u16(qt !== undefined ? qrsOnset + qt : NOT_COMPUTED)
    .i16(axis(measurements.pAxisDeg))
    .i16(axis(measurements.qrsAxisDeg))
    .i16(axis(measurements.tAxisDeg))
    .u16(0) // no QRS type list
    .u16(field(stated(measurements.heartRateBpm)))
    .u16(NOT_COMPUTED) // atrial rate
    .u16(field(stated(measurements.qtcIntervalMs)))
    .u8(0) // QTc formula: not stated
    .u16(0) // no tagged fields
    .padToEven()
    .toBytes();
}

/**
 * One simulator run: load the source, plan what to send, open the line, send each unit when a
 * device would (scaled by --speed), with the faults asked for and the cable pulled on schedule.
 *
 * Time model: units are due at start + atSeconds / speed. A cable pull lasts --pull-for seconds of
 * wall time; units that fall due meanwhile are lost, as a module streaming into an unplugged cable
 * loses them (at --speed max nothing is due in advance, so the stream just resumes).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { EcgRecord } from "../../device-drivers/ecg/ecg-record.ts";
import { SimulatorConnection } from "./connection.ts";
import { FaultInjector } from "./faults.ts";
import type { SimulatorLog } from "./log.ts";
import type { SimulatorOptions } from "./options.ts";
import { type Playlist, scpPlaylist, streamPlaylist } from "./playlist.ts";
import { loadSource } from "./source.ts";

export interface RunSummary {
  unitsSent: number;
  unitsLostInPulls: number;
  bytesWritten: number;
  noiseBytes: number;
  dropped: number;
  pulls: number;
  stopped: boolean;
}

export async function runSimulator(
  options: SimulatorOptions,
  log: SimulatorLog,
  stop: AbortSignal,
): Promise<RunSummary> {
  const source = await loadSource(options);
  const playlist = await planPlaylist(options, source.record, source.raw);
  log("start", {
    protocol: options.protocol,
    source: source.kind,
    leads: source.record.rhythm.leads.length,
    sourceHz: source.record.rhythm.samplingFrequencyHz,
    units: Number.isFinite(playlist.unitCount) ? playlist.unitCount : "unbounded",
    speed: options.speed,
    seed: options.seed,
    clippedSamples: playlist.clippedSamples,
    ...(options.protocol === "ecg-stream" ? { protocolSettings: options.stream } : {}),
  });
  const summary: RunSummary = {
    unitsSent: 0,
    unitsLostInPulls: 0,
    bytesWritten: 0,
    noiseBytes: 0,
    dropped: 0,
    pulls: 0,
    stopped: false,
  };
  const connection = new SimulatorConnection(options, log);
  const onAbort = () => {
    connection.abort().catch(() => {});
  };
  stop.addEventListener("abort", onAbort, { once: true });
  const faults = new FaultInjector(options);
  const pullEveryMs = options.pullEverySeconds === undefined ? undefined : options.pullEverySeconds * 1000;
  try {
    await connection.open(false, stop);
    const started = performance.now();
    let nextPullAt = pullEveryMs === undefined ? Number.POSITIVE_INFINITY : started + pullEveryMs;
    let pullEndedAt = Number.NEGATIVE_INFINITY;
    const pull = async () => {
      summary.pulls += 1;
      log("pull", { pull: summary.pulls, forSeconds: options.pullForSeconds });
      await connection.unplug();
      await sleep(options.pullForSeconds * 1000, undefined, { signal: stop });
      await connection.open(true, stop);
      pullEndedAt = performance.now();
      nextPullAt = pullEndedAt + (pullEveryMs ?? Number.POSITIVE_INFINITY);
    };
    for (const unit of playlist.units) {
      if (stop.aborted) break;
      const due = options.speed === "max" ? 0 : started + (unit.atSeconds * 1000) / options.speed;
      for (;;) {
        const now = performance.now();
        if (now >= nextPullAt) await pull();
        else if (now < due) await sleep(Math.min(due, nextPullAt) - now, undefined, { signal: stop });
        else break;
      }
      if (due < pullEndedAt) {
        summary.unitsLostInPulls += 1;
        continue;
      }
      const { writes, noiseBytes, dropped } = faults.writesFor(unit);
      summary.noiseBytes += noiseBytes;
      if (dropped) summary.dropped += 1;
      for (const piece of writes) {
        // A pull can fall between the pieces of a split unit: the rest of it is lost.
        if (performance.now() >= nextPullAt) {
          await pull();
          break;
        }
        await connection.write(piece);
        summary.bytesWritten += piece.length;
      }
      summary.unitsSent += 1;
      if ((unit.index + 1) % playlist.unitsPerRecord === 0) {
        log("progress", { records: (unit.index + 1) / playlist.unitsPerRecord, ...counts(summary) });
      }
    }
    if (!stop.aborted) {
      log("done", counts(summary));
      const linger = options.lingerSeconds < 0 ? 2 ** 31 - 1 : options.lingerSeconds * 1000;
      await sleep(linger, undefined, { signal: stop });
    }
  } catch (error) {
    if (!stop.aborted) throw error;
  } finally {
    stop.removeEventListener("abort", onAbort);
    await connection.close();
  }
  summary.stopped = stop.aborted;
  return summary;
}

async function planPlaylist(
  options: SimulatorOptions,
  record: EcgRecord,
  raw: Uint8Array | undefined,
): Promise<Playlist> {
  const amount = { repeat: options.repeat, records: options.records };
  if (options.protocol === "ecg-stream") return streamPlaylist(record, options.stream, amount);
  const { encodeScpEcg } = await import("../../device-drivers/ecg/scp-ecg/index.ts");
  return scpPlaylist(record, raw, options.stream.recordSeconds, amount, (r) => encodeScpEcg(r));
}

function counts(summary: RunSummary): Record<string, number> {
  const { stopped: _stopped, ...rest } = summary;
  return rest;
}

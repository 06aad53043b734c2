/**
 * DICOM ingest benchmark: dxgate's Storage SCP (the real gateway process, fsync on every instance)
 * against DCMTK storescp and Orthanc, each receiving the same corpora from storescu over loopback in
 * the same run. Reports instances/s, MB/s, peak resident memory and CPU of the receiving process,
 * and throughput ratios. See BENCHMARKS.md for how to read it.
 *
 *   npx node bench/dicom-ingest.ts [--small 500] [--large 20] [--stream-mb 500] [--repeat 3]
 *                                  [--receivers dxgate,storescp,storescp-fsync,orthanc] [--write]
 *
 * --write replaces the results section of BENCHMARKS.md; without it the table goes to stdout only.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Corpus, DX_FOR_PRESENTATION, writeClones, writeLargeMultiframe } from "./lib/corpus.ts";
import { describeMachine, type Machine } from "./lib/machine.ts";
import { procStats } from "./lib/proc-stats.ts";
import { type ReceiverName, startReceiver } from "./lib/receivers.ts";
import { storescu } from "./lib/send.ts";

const { values } = parseArgs({
  options: {
    small: { type: "string", default: "500" },
    large: { type: "string", default: "20" },
    "stream-mb": { type: "string", default: "500" },
    repeat: { type: "string", default: "3" },
    receivers: { type: "string", default: "dxgate,storescp,storescp-fsync,orthanc" },
    write: { type: "boolean", default: false },
  },
});
const receivers = values.receivers.split(",") as ReceiverName[];
const repeat = Number(values.repeat);

interface Run {
  seconds: number;
  idleRssMiB: number;
  peakRssMiB: number;
  cpuSeconds: number;
  maxSendPdv: number | undefined;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

async function measure(name: ReceiverName, corpus: Corpus, dir: string): Promise<Run> {
  const receiver = await startReceiver(name, dir);
  try {
    const idle = await procStats(receiver.pid);
    const sent = await storescu(receiver.aeTitle, receiver.port, corpus.files);
    const after = await procStats(receiver.pid);
    const stored = await receiver.countStored();
    if (stored !== corpus.files.length)
      throw new Error(`${name} holds ${stored} of ${corpus.files.length} instances`);
    return {
      seconds: sent.seconds,
      idleRssMiB: idle.rssMiB,
      peakRssMiB: after.peakRssMiB,
      cpuSeconds: after.cpuSeconds - idle.cpuSeconds,
      maxSendPdv: sent.maxSendPdv,
    };
  } finally {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Row {
  receiver: ReceiverName;
  instancesPerSecond: number;
  megabytesPerSecond: number;
  spread: string;
  idleRssMiB: number;
  peakRssMiB: number;
  cpuSeconds: number;
  maxSendPdv: number | undefined;
}

function summarise(receiver: ReceiverName, corpus: Corpus, runs: Run[]): Row {
  const seconds = median(runs.map((r) => r.seconds));
  const rates = runs.map((r) => corpus.files.length / r.seconds);
  return {
    receiver,
    instancesPerSecond: corpus.files.length / seconds,
    megabytesPerSecond: corpus.bytes / 1e6 / seconds,
    spread: runs.length > 1 ? `${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}` : "",
    idleRssMiB: median(runs.map((r) => r.idleRssMiB)),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    maxSendPdv: runs[0]?.maxSendPdv,
  };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function table(corpus: Corpus, rows: Row[]): string {
  const by = (name: ReceiverName) => rows.find((r) => r.receiver === name);
  const ratio = (row: Row, peer: ReceiverName) => {
    const other = by(peer);
    return other && row.receiver !== peer
      ? `${(row.instancesPerSecond / other.instancesPerSecond).toFixed(2)}×`
      : "";
  };
  const lines = [
    "| receiver | instances/s (median, min–max) | MB/s | × storescp | × storescp-fsync | × Orthanc | RSS idle → peak (MiB) | CPU s | max PDV |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.receiver} | ${fmt(row.instancesPerSecond)}${row.spread ? ` (${row.spread})` : ""} | ${fmt(row.megabytesPerSecond)} | ${ratio(row, "storescp")} | ${ratio(row, "storescp-fsync")} | ${ratio(row, "orthanc")} | ${fmt(row.idleRssMiB)} → ${fmt(row.peakRssMiB)} | ${fmt(row.cpuSeconds)} | ${row.maxSendPdv ?? "?"} |`,
    );
  }
  return `${corpus.name}: ${corpus.files.length} × ${fmt(corpus.bytes / corpus.files.length / 1e6)} MB\n\n${lines.join("\n")}`;
}

function header(machine: Machine, command: string): string {
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`${command}\``,
    "",
    `- machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}; receivers write to ${machine.filesystem}; shared and noisy`,
    `- versions: dxgate ${machine.dxgate} on Node.js ${machine.node}; DCMTK ${machine.dcmtk}; ${machine.orthanc}`,
  ].join("\n");
}

const work = await mkdtemp(join(tmpdir(), "dxgate-bench-"));
try {
  const machine = await describeMachine(work);
  log(`generating corpora in ${work}`);
  const corpora: Corpus[] = [];
  if (Number(values.small) > 0)
    corpora.push(
      await writeClones(join(work, "us"), "US 640×480×16-bit", Number(values.small), {
        rows: 480,
        columns: 640,
      }),
    );
  if (Number(values.large) > 0)
    corpora.push(
      await writeClones(join(work, "dx"), "DX 3000×3000×16-bit", Number(values.large), {
        rows: 3000,
        columns: 3000,
        sopClassUid: DX_FOR_PRESENTATION,
        modality: "DX",
      }),
    );
  if (Number(values["stream-mb"]) > 0) {
    const stream = await writeLargeMultiframe(join(work, "mf"), Number(values["stream-mb"]));
    stream.name = "US multi-frame (streaming)";
    corpora.push(stream);
  }

  const sections: string[] = [];
  for (const corpus of corpora) {
    const runs = new Map<ReceiverName, Run[]>(receivers.map((name) => [name, []]));
    // One run for the single large instance: it is about memory, not rate.
    const times = corpus.files.length === 1 ? 1 : repeat;
    for (let rep = 0; rep < times; rep += 1) {
      // Rotate the order so no receiver always runs first (cold caches) or last.
      const order = receivers.map((_, i) => receivers[(i + rep) % receivers.length]!);
      for (const name of order) {
        const result = await measure(name, corpus, join(work, "recv", `${name}-${rep}`));
        log(
          `${corpus.name} #${rep + 1} ${name}: ${fmt(corpus.files.length / result.seconds)} inst/s, peak ${fmt(result.peakRssMiB)} MiB`,
        );
        runs.get(name)!.push(result);
      }
    }
    sections.push(
      table(
        corpus,
        receivers.map((name) => summarise(name, corpus, runs.get(name)!)),
      ),
    );
  }
  const command = `npx node bench/dicom-ingest.ts ${process.argv.slice(2).join(" ")}`.trim();
  const report = `${header(machine, command)}\n\n${sections.join("\n\n")}\n`;
  process.stdout.write(`${report}\n`);
  if (values.write) {
    const path = join(import.meta.dirname, "..", "BENCHMARKS.md");
    const text = await readFile(path, "utf8");
    const begin = "<!-- dicom-ingest:begin -->";
    const end = "<!-- dicom-ingest:end -->";
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`BENCHMARKS.md has no ${begin} … ${end} section`);
    await writeFile(path, `${text.slice(0, from + begin.length)}\n${report}${text.slice(to)}`);
    log("BENCHMARKS.md updated");
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

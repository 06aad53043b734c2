/**
 * Link benchmark: the real box uploader (uploader/index.ts createUploader, an in-memory queue of
 * generated study files) to the real reading centre (reading-centre/testing/harness.ts: the whole
 * service in this process, its embedded broker, staging and stores on disk) through the link-fault
 * proxy (test/support/link-proxy.ts) throttled to a link rate with a one-way delay. Measures
 *   (a) goodput: instance payload bytes delivered ÷ elapsed ÷ link rate (goal ≥ 90 %);
 *   (b) protocol overhead: bytes through the proxy, both directions ÷ payload (goal ≤ 1.05);
 *   (c) bytes re-sent after N cuts mid-chunk: upward bytes of the cut run − upward bytes of the
 *       cut-free run of the same study, per cut, in chunks (goal ≤ 1 chunk per in-flight instance);
 *   (d) time until the county has a stat 1-instance ECG study queued behind a large routine study
 *       (its preview, its commit-ack at the box, its worklist entry).
 * See BENCHMARKS.md for the method and how to read it.
 *
 *   npx node bench/link.ts [--rates 2,10] [--delay-ms 50] [--seconds 30] [--instance-kib 1024]
 *                          [--cuts 3] [--cut-rates 2,10] [--ecg-rate 2] [--ecg-variants default,cap64,budget]
 *                          [--unsigned] [--write]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createLogger } from "../common/logger.ts";
import { disposeRc, type RunningRc, startRc } from "../reading-centre/testing/harness.ts";
import { type LinkProxy, startLinkProxy } from "../test/support/link-proxy.ts";
import {
  createUploader,
  type OutboundStudy,
  type Uploader,
  type UploaderOptions,
} from "../uploader/index.ts";
import { BenchQueue, NullInbox, writeStudy } from "./lib/bench-queue.ts";
import { type ByteCounter, startByteCounter } from "./lib/byte-counter.ts";
import { describeMachine } from "./lib/machine.ts";
import { type CutObservation, DeliveredChunks, LinkTap } from "./lib/mqtt-tap.ts";
import { fmt, replaceSection } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "2,10" },
    "delay-ms": { type: "string", default: "50" },
    seconds: { type: "string", default: "30" },
    "instance-kib": { type: "string", default: "1024" },
    cuts: { type: "string", default: "3" },
    "cut-rates": { type: "string", default: "2,10" },
    "ecg-rate": { type: "string", default: "2" },
    "ecg-variants": { type: "string", default: "default,cap64,budget" },
    unsigned: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
  },
});
const rates = values.rates.split(",").map(Number);
const cutRates = values["cut-rates"] ? values["cut-rates"].split(",").map(Number) : [];
const delayMs = Number(values["delay-ms"]);
const targetSeconds = Number(values.seconds);
const instanceBytes = Number(values["instance-kib"]) * 1024;
const cuts = Number(values.cuts);
const ecgRate = Number(values["ecg-rate"]);
/**
 * default: county and box defaults (256 KiB chunks); cap64: the county caps chunks at 64 KiB
 * (`mqtt.maxChunkBytes`, negotiated in the manifest-ack); budget: the box's bandwidth budget set to
 * the link rate (the box then offers chunks of at most ¼ s of its budget).
 */
type EcgVariant = "default" | "cap64" | "budget";
const ecgVariants = (values["ecg-variants"] ? values["ecg-variants"].split(",") : []) as EcgVariant[];

const SITE = { countyId: "county", siteId: "site-bench" };
const ECG_BYTES = 125_000; // 12 leads × 10 s × 500 Hz × 16 bit, plus the header
const PREVIEW_BYTES = 60_000; // the 12-lead sheet as PNG
const ROOT = join(import.meta.dirname, "..");

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

const bytesPerSecond = (mbps: number) => (mbps * 1e6) / 8;

/** One box, one county, one throttled link between them; fresh for every run. */
interface Link {
  rc: RunningRc;
  proxy: LinkProxy;
  counter: ByteCounter;
  tap: LinkTap;
  queue: BenchQueue;
  uploader: Uploader;
  work: string;
  token: string;
  close(): Promise<void>;
}

async function openLink(
  mbps: number,
  rcOverrides: Record<string, unknown> = {},
  box: Partial<UploaderOptions> = {},
): Promise<Link> {
  const work = await mkdtemp(join(tmpdir(), "dxgate-bench-link-"));
  const rc = await startRc({
    dataDir: join(work, "rc"),
    // As a county runs once its boxes sign: unsigned or badly signed manifests and commits refused.
    overrides: { "security.requireSignatures": !values.unsigned, ...rcOverrides },
  });
  const credentials = await rc.addBox(SITE.siteId);
  const rate = bytesPerSecond(mbps);
  // The proxy's queue stands for the bottleneck's buffer plus the bytes in propagation: 64 KiB
  // beyond twice the bandwidth-delay product (bytes in it are lost on a cut, as on a real link).
  const highWaterBytes = 64 * 1024 + Math.ceil((2 * rate * delayMs) / 1000);
  const delivered = new DeliveredChunks();
  const counter = await startByteCounter({ host: "127.0.0.1", port: rc.mqttPort }, (data, connection) =>
    delivered.feed(connection, data),
  );
  const proxy = await startLinkProxy({ target: { host: "127.0.0.1", port: counter.port }, highWaterBytes });
  proxy.setRate(rate);
  proxy.setDelay(delayMs);
  const tap = new LinkTap(proxy, delivered);
  const queue = new BenchQueue();
  const url = new URL(`mqtt://127.0.0.1:${proxy.port}`);
  url.username = credentials.username;
  url.password = credentials.password;
  const options: UploaderOptions = {
    ...box,
    brokerUrl: url.href,
    signingKey: credentials.signingKey,
    site: SITE,
    queue,
    inbox: new NullInbox(),
    log: createLogger({ name: "bench-box", level: "warn", destination: process.stderr }),
  };
  const uploader = createUploader(options);
  await uploader.start();
  const deadline = Date.now() + 20_000;
  while (!uploader.isConnected()) {
    if (Date.now() > deadline) throw new Error("the box did not connect through the proxy");
    await delay(20);
  }
  await delay(300); // the online status and the subscription settle before anything is measured
  const token = await rc.login();
  return {
    rc,
    proxy,
    counter,
    tap,
    queue,
    uploader,
    work,
    token,
    async close() {
      if (process.env.BENCH_LINK_DEBUG) {
        const path = join(process.env.BENCH_LINK_DEBUG, `rc-${Date.now()}.jsonl`);
        await writeFile(path, rc.logs.lines.map((l) => JSON.stringify(l)).join("\n"));
        await writeFile(path.replace(/\.jsonl$/, ".trace"), tap.trace.join("\n"));
        log(`reading centre log: ${path}`);
      }
      tap.stop();
      await uploader.stop();
      await proxy.close();
      await counter.close();
      await disposeRc(rc);
      await rm(work, { recursive: true, force: true });
    },
  };
}

function routineStudy(dir: string, instances: number): Promise<OutboundStudy> {
  return writeStudy(dir, {
    sizes: Array.from({ length: instances }, () => instanceBytes),
    priority: "routine",
    modality: "CT",
    sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
    description: "bench routine study",
  });
}

function instancesFor(mbps: number): number {
  return Math.max(2, Math.round((bytesPerSecond(mbps) * targetSeconds) / instanceBytes));
}

function payloadOf(study: OutboundStudy): number {
  return study.instances.reduce((sum, i) => sum + i.size, 0);
}

interface Transfer {
  mbps: number;
  instances: number;
  payload: number;
  seconds: number;
  /** Bytes that entered the link (the proxy), each direction. */
  up: number;
  down: number;
  /** Upward bytes that made it across the link to the broker. */
  upDelivered: number;
  chunkBytes: number;
  duplicates: ReturnType<LinkTap["duplicates"]>;
  resentDelivered: LinkTap["resentDelivered"];
  cutsDone: CutObservation[];
  attempts: number;
}

/** Send one routine study over a fresh link; cut it `cutCount` times mid-chunk, evenly through it. */
async function transfer(mbps: number, cutCount: number): Promise<Transfer> {
  const link = await openLink(mbps);
  try {
    const study = await routineStudy(link.work, instancesFor(mbps));
    const payload = payloadOf(study);
    const uid = study.study.studyInstanceUid;
    const cutsDone: CutObservation[] = [];
    const stopCutter = link.proxy.onBytes("clientToServer", () => {
      // The tap has read this piece already (its hook was registered first): cut inside a chunk
      // once the chunk data that crossed for the first time passes the next fraction of the study.
      // Only in an attempt started after the previous cut (not while mqtt.js re-sends the old
      // attempt's unacknowledged chunks on reconnect).
      const due = ((cutsDone.length + 1) / (cutCount + 1)) * payload;
      const attempts = link.queue.events.filter((e) => e.kind === "uploading" && e.uid === uid).length;
      if (
        cutsDone.length < cutCount &&
        attempts > cutsDone.length &&
        link.tap.uniqueChunkBytes >= due &&
        link.tap.insideChunk
      ) {
        cutsDone.push(link.tap.observe());
        link.proxy.cut();
      }
    });
    const before = link.proxy.stats();
    const beforeDelivered = link.counter.stats();
    link.queue.add(study);
    const ready = link.queue.events.at(-1)!.at;
    const delivered = await link.queue.waitFor("delivered", uid, 600_000);
    const after = link.proxy.stats();
    const afterDelivered = link.counter.stats();
    stopCutter();
    const chunkBytes = Math.max(0, ...[...link.tap.sends.values()].map((s) => s.dataBytes));
    return {
      mbps,
      instances: study.instances.length,
      payload,
      seconds: (delivered.at - ready) / 1000,
      up: after.clientToServer - before.clientToServer,
      down: after.serverToClient - before.serverToClient,
      upDelivered: afterDelivered.up - beforeDelivered.up,
      chunkBytes,
      duplicates: link.tap.duplicates(),
      resentDelivered: { ...link.tap.resentDelivered, keys: [...link.tap.resentDelivered.keys] },
      cutsDone,
      attempts: link.queue.events.filter((e) => e.kind === "uploading" && e.uid === uid).length,
    };
  } finally {
    await link.close();
  }
}

interface EcgRun {
  variant: EcgVariant;
  routineInstances: number;
  chunkBytes: number;
  previewSeconds: number | undefined;
  ackSeconds: number;
  worklistSeconds: number | undefined;
  preempted: boolean;
}

/**
 * A large routine study is sending; once 1 MiB of it crossed, a stat 1-instance ECG study with its
 * preview becomes ready. Time from then until the county shows the preview, the box has the
 * commit-ack, and the worklist lists the study.
 */
async function ecgBehindRoutine(mbps: number, variant: EcgVariant): Promise<EcgRun> {
  const link = await openLink(
    mbps,
    variant === "cap64" ? { "mqtt.maxChunkBytes": 64 * 1024 } : {},
    variant === "budget" ? { bandwidth: { kbps: mbps * 1000 } } : {},
  );
  try {
    const routine = await routineStudy(link.work, instancesFor(mbps) * 2);
    const ecg = await writeStudy(link.work, {
      sizes: [ECG_BYTES],
      priority: "stat",
      modality: "ECG",
      sopClassUid: "1.2.840.10008.5.1.4.1.1.9.1.1",
      description: "bench stat ECG",
      previewBytes: PREVIEW_BYTES,
    });
    const uid = ecg.study.studyInstanceUid;
    link.queue.add(routine);
    const deadline = Date.now() + 120_000;
    while (link.tap.uniqueChunkBytes < 1024 * 1024) {
      if (Date.now() > deadline) throw new Error("the routine study did not start");
      await delay(20);
    }
    link.queue.add(ecg);
    const ready = link.queue.events.at(-1)!.at;
    let previewAt: number | undefined;
    let worklistAt: number | undefined;
    const acked = link.queue.waitFor("delivered", uid, 300_000);
    let ackAt: number | undefined;
    void acked.then((e) => {
      ackAt = e.at;
    });
    while (ackAt === undefined || worklistAt === undefined) {
      if (Date.now() - ready > 300_000) throw new Error("the ECG study did not arrive within 300 s");
      if (previewAt === undefined) {
        const previews = await link.rc.api("GET", `/api/studies/${uid}/previews`, { token: link.token });
        if (previews.status === 200 && Array.isArray(previews.json) && previews.json.length > 0)
          previewAt = Date.now();
      }
      if (worklistAt === undefined) {
        const worklist = await link.rc.api("GET", "/api/worklist", { token: link.token });
        const entries = Array.isArray(worklist.json)
          ? (worklist.json as Array<{ studyInstanceUid: string }>)
          : [];
        if (entries.some((e) => e.studyInstanceUid === uid)) worklistAt = Date.now();
      }
      await Promise.race([delay(50), acked]);
      await delay(0);
    }
    return {
      variant,
      routineInstances: routine.instances.length,
      chunkBytes: Math.max(0, ...[...link.tap.sends.values()].map((s) => s.dataBytes)),
      previewSeconds: previewAt === undefined ? undefined : (previewAt - ready) / 1000,
      ackSeconds: (ackAt - ready) / 1000,
      worklistSeconds: (worklistAt - ready) / 1000,
      preempted: link.queue.events.some(
        (e) => e.uid === routine.study.studyInstanceUid && e.kind === "preempted",
      ),
    };
  } finally {
    await link.close();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const yes = (ok: boolean) => (ok ? "yes" : "**no**");

function goodputTable(runs: Transfer[]): string {
  const lines = [
    "| link | study | elapsed s | goodput (÷ link rate) | wire up + down ÷ payload | goals met: goodput ≥ 90 %, overhead ≤ 5 % |",
    "| --- | --- | ---: | ---: | ---: | --- |",
  ];
  for (const r of runs) {
    const goodput = r.payload / r.seconds / bytesPerSecond(r.mbps);
    const overhead = (r.up + r.down) / r.payload;
    lines.push(
      `| ${r.mbps} Mbit/s, ${delayMs} ms | ${r.instances} × ${mib(instanceBytes)} (${mib(r.payload)}), ${r.chunkBytes / 1024} KiB chunks | ${fmt(r.seconds)} | ${pct(goodput)} | ${overhead.toFixed(4)} (up ${mib(r.up)}, down ${(r.down / 1024).toFixed(1)} KiB) | ${yes(goodput >= 0.9)}, ${yes(overhead <= 1.05)} |`,
    );
  }
  return lines.join("\n");
}

function cutTable(pairs: Array<{ free: Transfer; cut: Transfer }>): string {
  const lines = [
    "| link | cuts (mid-chunk) | on the link at each cut: instances (chunk PUBLISHes) | re-sent: up, cut run − cut-free run | of it lost inside the link (queued at the cut) | of it crossed the link before (the cut chunk's first part included) | chunks re-sent although they had crossed whole | re-sent per cut, in chunks | per in-flight instance per cut | attempts | goal ≤ 1 met |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const { free, cut } of pairs) {
    const n = cut.cutsDone.length;
    const resent = cut.up - free.up;
    const lost = cut.up - cut.upDelivered - (free.up - free.upDelivered);
    const twice = cut.upDelivered - free.upDelivered;
    const chunkWire = cut.chunkBytes + 256; // data + DXC1 header and MQTT framing
    const chunksPerCut = n > 0 ? resent / n / chunkWire : Number.NaN;
    const meanInFlight = n > 0 ? cut.cutsDone.reduce((s, c) => s + c.inFlightInstances, 0) / n : Number.NaN;
    const perInstance = chunksPerCut / Math.max(1, meanInFlight);
    lines.push(
      `| ${cut.mbps} Mbit/s, ${delayMs} ms | ${n} (${cut.cutsDone.filter((c) => c.midChunk).length}) | ${cut.cutsDone.map((c) => `${c.inFlightInstances} (${c.inFlightChunks})`).join(", ")} | ${mib(resent)} | ${mib(lost)} | ${mib(twice)} | ${cut.resentDelivered.chunks} (${mib(cut.resentDelivered.dataBytes)}) | ${chunksPerCut.toFixed(2)} | ${perInstance.toFixed(2)} | ${cut.attempts} | ${yes(perInstance <= 1)} |`,
    );
  }
  return lines.join("\n");
}

const VARIANT_NAMES: Readonly<Record<EcgVariant, string>> = {
  default: "defaults (256 KiB offered, county cap 256 KiB)",
  cap64: "county caps chunks at 64 KiB",
  budget: `box budget ${ecgRate * 1000} kbit/s (= link)`,
};

function ecgTable(runs: EcgRun[]): string {
  const lines = [
    "| link | set-up | chunks used | routine study ahead | preview at the county | commit-ack at the box | in the worklist | routine preempted |",
    "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |",
  ];
  for (const r of runs) {
    const s = (x: number | undefined) => (x === undefined ? "–" : `${x.toFixed(2)} s`);
    lines.push(
      `| ${ecgRate} Mbit/s, ${delayMs} ms | ${VARIANT_NAMES[r.variant]} | ${r.chunkBytes / 1024} KiB | ${r.routineInstances} × ${mib(instanceBytes)} | ${s(r.previewSeconds)} | ${s(r.ackSeconds)} | ${s(r.worklistSeconds)} | ${r.preempted ? "yes" : "no"} |`,
    );
  }
  return lines.join("\n");
}

const machine = await describeMachine(tmpdir());
const free = new Map<number, Transfer>();
for (const mbps of [...new Set([...rates, ...cutRates])]) {
  log(`cut-free transfer at ${mbps} Mbit/s`);
  const run = await transfer(mbps, 0);
  log(
    `  ${fmt(run.seconds)} s, goodput ${pct(run.payload / run.seconds / bytesPerSecond(mbps))}, overhead ${((run.up + run.down) / run.payload).toFixed(4)}`,
  );
  free.set(mbps, run);
}
const cutPairs: Array<{ free: Transfer; cut: Transfer }> = [];
for (const mbps of cutRates) {
  log(`transfer with ${cuts} cuts at ${mbps} Mbit/s`);
  const cut = await transfer(mbps, cuts);
  log(
    `  ${fmt(cut.seconds)} s, re-sent ${mib(cut.up - free.get(mbps)!.up)}, ${cut.attempts} attempts, chunk PUBLISHes started twice ${cut.duplicates.chunks}, re-sent though delivered ${JSON.stringify(cut.resentDelivered)}, cuts ${JSON.stringify(cut.cutsDone)}`,
  );
  cutPairs.push({ free: free.get(mbps)!, cut });
}
const ecgRuns: EcgRun[] = [];
for (const variant of ecgVariants) {
  log(`stat ECG behind a routine study at ${ecgRate} Mbit/s, ${variant}`);
  const run = await ecgBehindRoutine(ecgRate, variant);
  log(
    `  preview ${run.previewSeconds?.toFixed(2)} s, commit-ack ${run.ackSeconds.toFixed(2)} s, worklist ${run.worklistSeconds?.toFixed(2)} s`,
  );
  ecgRuns.push(run);
}

const command = `npx node bench/link.ts ${process.argv.slice(2).join(" ")}`.trim();
const report = [
  `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`${command}\``,
  "",
  `- machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}; shared and noisy`,
  `- versions: dxgate ${machine.dxgate} on Node.js ${machine.node}`,
  `- link: the proxy's token bucket at the rate given (each direction), ${delayMs} ms one way; uploader defaults (window 8, 256 KiB chunks offered, no bandwidth budget${values.unsigned ? ", **unsigned**" : ", signed manifest and commit"})`,
  "",
  "Goodput and overhead (cut-free):",
  "",
  goodputTable([...free.values()]),
  "",
  `Bytes re-sent after ${cuts} cuts:`,
  "",
  cutTable(cutPairs),
  "",
  "Time until the county has a stat ECG study queued behind a routine study (from ready at the box):",
  "",
  ecgTable(ecgRuns),
  "",
].join("\n");
process.stdout.write(`${report}\n`);
if (values.write) {
  await replaceSection(join(ROOT, "BENCHMARKS.md"), "link", report);
  log("BENCHMARKS.md updated");
}

/**
 * Broker benchmark: the reading centre's embedded aedes (startEmbeddedBroker: packet-size guard and
 * ACL, as reading-centre/app.ts runs it) against Mosquitto 2, each its own process, under the load the
 * issue names: 256 KiB QoS 1 chunks from N boxes at once to one QoS 1 subscriber (the receiver).
 * Each box is its own mqtt.js client with a window of 8 PUBLISHes awaiting PUBACK; the subscriber is
 * a separate process connected like the reading centre's receiver. Reports messages/s and MB/s
 * delivered to the subscriber, publish→PUBACK latency (p50, p99), the broker's peak resident set and
 * CPU, and the aedes/Mosquitto ratios. See BENCHMARKS.md.
 *
 *   npx node bench/broker.ts [--boxes 1,10,50] [--messages 3200] [--window 8] [--chunk-kib 256]
 *                            [--repeat 3] [--write]
 *
 * --messages is the total per run, split evenly between the boxes. --write replaces the results
 * section of BENCHMARKS.md; without it the table goes to stdout only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { MqttClient } from "mqtt";
import { describeMachine } from "./lib/machine.ts";
import {
  BENCH_COUNTY,
  type BrokerName,
  type BrokerProcess,
  chunkPayload,
  connectBox,
  publishLoad,
  ROOT,
  startAedes,
  startMosquitto,
  wallMs,
} from "./lib/mqtt-load.ts";
import { procStats } from "./lib/proc-stats.ts";
import { firstLine, fmt, median, percentile, replaceSection } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    boxes: { type: "string", default: "1,10,50" },
    messages: { type: "string", default: "3200" },
    window: { type: "string", default: "8" },
    "chunk-kib": { type: "string", default: "256" },
    repeat: { type: "string", default: "3" },
    brokers: { type: "string", default: "aedes,mosquitto" },
    write: { type: "boolean", default: false },
  },
});
const boxCounts = values.boxes.split(",").map(Number);
const totalMessages = Number(values.messages);
const window = Number(values.window);
const chunkBytes = Number(values["chunk-kib"]) * 1024;
const repeat = Number(values.repeat);
const brokers = values.brokers.split(",") as BrokerName[];

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

interface Run {
  messagesPerSecond: number;
  megabytesPerSecond: number;
  p50: number;
  p99: number;
  idleRssMiB: number;
  peakRssMiB: number;
  cpuSeconds: number;
  /** CPU seconds of the publishing boxes' process and of the subscriber's, same interval. */
  publisherCpuSeconds: number;
  subscriberCpuSeconds: number;
}

type SubscriberMessage =
  | { type: "ready" | "armed" }
  | { type: "done"; count: number; bytes: number; firstAt: number; lastAt: number; cpuSeconds: number };

class Subscriber {
  readonly #child: ChildProcess;
  readonly #inbox: SubscriberMessage[] = [];
  #waiter: (() => void) | undefined;

  constructor(broker: BrokerProcess, dir: string) {
    this.#child = spawn(process.execPath, [join(ROOT, "bench", "lib", "subscriber-child.ts")], {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_URL: broker.url,
        BENCH_COUNTY,
        BENCH_USERNAME: broker.internal.username,
        BENCH_PASSWORD: broker.internal.password,
      },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.#child.stderr?.pipe(createWriteStream(join(dir, "subscriber.log")));
    this.#child.on("message", (message: SubscriberMessage) => {
      this.#inbox.push(message);
      this.#waiter?.();
    });
  }

  async next<T extends SubscriberMessage["type"]>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<SubscriberMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#inbox.findIndex((m) => m.type === type);
      if (at >= 0) return this.#inbox.splice(at, 1)[0] as Extract<SubscriberMessage, { type: T }>;
      if (this.#child.exitCode !== null) throw new Error("subscriber exited (see subscriber.log)");
      if (Date.now() > deadline) throw new Error(`subscriber: no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async expect(count: number): Promise<void> {
    this.#child.send({ cmd: "expect", count });
    await this.next("armed", 10_000);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = once(this.#child, "exit");
    this.#child.send({ cmd: "stop" });
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

async function measure(name: BrokerName, boxes: number, dir: string): Promise<Run> {
  const broker = name === "aedes" ? await startAedes(dir) : await startMosquitto(dir, boxes);
  const clients: MqttClient[] = [];
  let subscriber: Subscriber | undefined;
  try {
    subscriber = new Subscriber(broker, dir);
    await subscriber.next("ready", 15_000);
    for (let i = 0; i < boxes; i += 10) {
      const batch = Array.from({ length: Math.min(10, boxes - i) }, (_, k) => connectBox(broker, i + k));
      clients.push(...(await Promise.all(batch)));
    }
    const payload = chunkPayload(chunkBytes);
    // Warm-up: one message per box (connections, JIT, the broker's first allocations).
    await subscriber.expect(boxes);
    await Promise.all(clients.map((c, i) => publishLoad(c, i, payload, 1, 1, [])));
    await subscriber.next("done", 60_000);

    const perBox = Math.max(1, Math.floor(totalMessages / boxes));
    const total = perBox * boxes;
    const idle = await procStats(broker.pid);
    const latencies: number[] = [];
    await subscriber.expect(total);
    const started = wallMs();
    const cpu0 = process.cpuUsage();
    await Promise.all(clients.map((c, i) => publishLoad(c, i, payload, perBox, window, latencies)));
    const done = await subscriber.next("done", 300_000);
    const after = await procStats(broker.pid);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (done.lastAt - started) / 1000;
    return {
      messagesPerSecond: done.count / seconds,
      megabytesPerSecond: done.bytes / 1e6 / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      idleRssMiB: idle.rssMiB,
      peakRssMiB: after.peakRssMiB,
      cpuSeconds: after.cpuSeconds - idle.cpuSeconds,
      publisherCpuSeconds: (cpu.user + cpu.system) / 1e6,
      subscriberCpuSeconds: done.cpuSeconds,
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await subscriber?.stop();
    await broker.stop();
  }
}

interface Row extends Run {
  broker: BrokerName;
  boxes: number;
  spread: string;
}

function summarise(broker: BrokerName, boxes: number, runs: Run[]): Row {
  const rates = runs.map((r) => r.messagesPerSecond);
  return {
    broker,
    boxes,
    messagesPerSecond: median(rates),
    megabytesPerSecond: median(runs.map((r) => r.megabytesPerSecond)),
    spread: runs.length > 1 ? `${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}` : "",
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    idleRssMiB: median(runs.map((r) => r.idleRssMiB)),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    publisherCpuSeconds: median(runs.map((r) => r.publisherCpuSeconds)),
    subscriberCpuSeconds: median(runs.map((r) => r.subscriberCpuSeconds)),
  };
}

function table(rows: Row[]): string {
  const lines = [
    "| boxes | broker | messages/s (median, min–max) | MB/s | publish→PUBACK p50 / p99 (ms) | broker RSS idle → peak (MiB) | CPU s: broker / boxes / subscriber | aedes ÷ Mosquitto: msg/s, p99, peak RSS |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const peer = rows.find((r) => r.boxes === row.boxes && r.broker === "mosquitto");
    const ratio =
      row.broker === "aedes" && peer
        ? `${(row.messagesPerSecond / peer.messagesPerSecond).toFixed(2)}×, ${(row.p99 / peer.p99).toFixed(2)}×, ${(row.peakRssMiB / peer.peakRssMiB).toFixed(1)}×`
        : "";
    lines.push(
      `| ${row.boxes} | ${row.broker} | ${fmt(row.messagesPerSecond)}${row.spread ? ` (${row.spread})` : ""} | ${fmt(row.megabytesPerSecond)} | ${fmt(row.p50)} / ${fmt(row.p99)} | ${fmt(row.idleRssMiB)} → ${fmt(row.peakRssMiB)} | ${fmt(row.cpuSeconds)} / ${fmt(row.publisherCpuSeconds)} / ${fmt(row.subscriberCpuSeconds)} | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

const work = await mkdtemp(join(tmpdir(), "dxgate-bench-broker-"));
try {
  const machine = await describeMachine(work);
  const mosquittoVersion = (await firstLine("mosquitto", ["-h"])).replace(/\.$/, "");
  const runs = new Map<string, Run[]>();
  for (const boxes of boxCounts) {
    for (let rep = 0; rep < repeat; rep += 1) {
      const order = brokers.map((_, i) => brokers[(i + rep) % brokers.length]!);
      for (const name of order) {
        const dir = await mkdtemp(join(work, `${name}-${boxes}-`));
        const result = await measure(name, boxes, dir);
        log(
          `${boxes} boxes #${rep + 1} ${name}: ${fmt(result.messagesPerSecond)} msg/s, p99 ${fmt(result.p99)} ms, peak ${fmt(result.peakRssMiB)} MiB`,
        );
        const key = `${name}:${boxes}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  const rows = boxCounts.flatMap((boxes) =>
    brokers.map((name) => summarise(name, boxes, runs.get(`${name}:${boxes}`)!)),
  );
  const command = `npx node bench/broker.ts ${process.argv.slice(2).join(" ")}`.trim();
  const report = [
    `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`${command}\``,
    "",
    `- machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}; shared and noisy`,
    `- versions: dxgate ${machine.dxgate} on Node.js ${machine.node}; aedes (package.json) ${await aedesVersion()}; ${mosquittoVersion}`,
    `- load: ${totalMessages} messages per run split over the boxes, ${values["chunk-kib"]} KiB chunk data + DXC1 header each, window ${window}, QoS 1 both ways; ${repeat} runs per cell in rotating order, a fresh broker per run`,
    "",
    table(rows),
    "",
  ].join("\n");
  process.stdout.write(`${report}\n`);
  if (values.write) {
    await replaceSection(join(ROOT, "BENCHMARKS.md"), "broker", report);
    log("BENCHMARKS.md updated");
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

async function aedesVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, "node_modules", "aedes", "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

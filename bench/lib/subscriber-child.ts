/**
 * Child process for bench/broker.ts: one QoS 1 subscriber to every box's up topics, connected as the
 * reading centre's receiver connects (MQTT 3.1.1, persistent session, one message handled at a time:
 * the PUBACK goes once the handler returns). The handler only counts, so the broker is what is
 * measured. Driven over IPC:
 *   parent → {cmd: "expect", count}   child → {type: "armed"}
 *   child → {type: "done", count, bytes, firstAt, lastAt, cpuSeconds}   once `count` messages arrived
 *
 * env BENCH_URL, BENCH_USERNAME / BENCH_PASSWORD (optional), BENCH_COUNTY.
 */
import mqtt from "mqtt";
import { upWildcard } from "../../uploader/protocol/index.ts";
import { wallMs } from "./mqtt-load.ts";

const url = process.env.BENCH_URL;
const county = process.env.BENCH_COUNTY;
if (!url || !county || !process.send) throw new Error("run by bench/broker.ts only");
const send = process.send.bind(process);

let expected = Number.POSITIVE_INFINITY;
let count = 0;
let bytes = 0;
let firstAt = 0;
let lastAt = 0;
let cpuAtArm = process.cpuUsage();

const client = mqtt.connect(url, {
  protocolVersion: 4,
  clean: false,
  // The embedded broker reserves this prefix for the reading centre's own (authenticated) clients.
  clientId: `dxgate-rc-bench-${process.pid}`,
  reconnectPeriod: 0,
  ...(process.env.BENCH_USERNAME ? { username: process.env.BENCH_USERNAME } : {}),
  ...(process.env.BENCH_PASSWORD ? { password: process.env.BENCH_PASSWORD } : {}),
});
client.handleMessage = (packet, callback) => {
  const now = wallMs();
  if (count === 0) firstAt = now;
  lastAt = now;
  count += 1;
  bytes += packet.payload.length;
  if (count === expected) {
    const cpu = process.cpuUsage(cpuAtArm);
    send({ type: "done", count, bytes, firstAt, lastAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
    expected = Number.POSITIVE_INFINITY;
  }
  callback();
};
client.on("error", (error) => {
  process.stderr.write(`subscriber: ${error.message}\n`);
  process.exit(1);
});
client.on("connect", () => {
  client.subscribe(upWildcard(county), { qos: 1 }, (error, granted) => {
    if (error || granted?.[0]?.qos !== 1) {
      process.stderr.write(`subscriber: subscription refused ${error?.message ?? ""}\n`);
      process.exit(1);
    }
    send({ type: "ready" });
  });
});
process.on("message", (message: { cmd: string; count: number }) => {
  if (message.cmd === "expect") {
    count = 0;
    bytes = 0;
    expected = message.count;
    cpuAtArm = process.cpuUsage();
    send({ type: "armed" });
  } else if (message.cmd === "stop") {
    client.end(true, () => process.exit(0));
  }
});

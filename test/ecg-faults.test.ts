/**
 * ECG lines misbehaving, end to end (real gateway and reading centre processes, socat ptys read
 * through serialport): garbage, records split across reads or run together, a record cut by a
 * cable pull, the pty link disappearing and returning. No complete record may be lost, nothing may
 * crash, and the device's state in /api/devices follows: connected → receiving → disconnected →
 * connected.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { contentUids, sha256Hex } from "../device-drivers/ecg/import/index.ts";
import { encodeScpEcg } from "../device-drivers/ecg/scp-ecg/index.ts";
import { generateSyntheticEcg } from "../device-drivers/ecg/stream/index.ts";
import { openPtyPair, type PtyPair } from "../device-drivers/serial/test-support.ts";
import { boxStudies, countyInstances, runSimulator } from "./support/ecg.ts";
import { eventually, type RunningProcess } from "./support/processes.ts";
import { provisionBox, ReadingCentreClient, startGateway, startReadingCentre } from "./support/stack.ts";

interface DeviceView {
  path: string;
  state: string;
  recordsReceived: number;
  bytesReceived: number;
  bytesDiscarded: number;
  lastError: { code: string } | null;
}

describe("ECG lines with faults", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;
  let api = "";
  const links = { scp: "", stream: "" };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-ecg-faults-"));
    links.scp = join(work, "tty-cart");
    links.stream = join(work, "tty-module");
    rc = await startReadingCentre(join(work, "rc"));
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, {
      ...box,
      DXGATE_SERIAL: `${links.scp}=generic-scp-ecg-usb-serial,${links.stream}=generic-ecg-stream-8-lead`,
      DXGATE_SERIAL_WATCH: "0",
      DXGATE_SERIAL_REOPEN_BASE_MS: "100",
    });
    api = `http://127.0.0.1:${gateway.port("http")}`;
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const device = async (path: string): Promise<DeviceView> => {
    const list = (await (await fetch(`${api}/api/devices`)).json()) as DeviceView[];
    const found = list.find((d) => d.path === path);
    assert.ok(found, `${path} in /api/devices`);
    return found;
  };
  const untilState = (path: string, state: string) =>
    eventually(
      async () => ((await device(path)).state === state ? true : undefined),
      10_000,
      `${path} ${state}`,
    );

  test("SCP-ECG records split across reads, run together, among garbage and across cable pulls: every complete one arrives, once", async () => {
    // Five different carts' records; their SOP Instance UIDs follow from their bytes.
    const records = [61, 67, 73, 79, 85].map((bpm, n) =>
      encodeScpEcg(
        generateSyntheticEcg({ seconds: 10, heartRateBpm: bpm, patient: { id: `FAULT-${n + 1}` } }),
      ),
    );
    const expected = records.map((raw) => contentUids(sha256Hex(raw)).sopInstanceUid);
    let seed = 20261125;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    /** Writes in random pieces with pauses, so the gateway reads them as separate chunks. */
    const writeSplit = async (cart: PtyPair, bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(random() * 4096);
        await cart.write(bytes.subarray(at, at + size));
        at += size;
        if (random() < 0.3) await sleep(5);
      }
    };
    const received = async (total: number) =>
      eventually(
        async () => ((await device(links.scp)).bytesReceived >= total ? true : undefined),
        10_000,
        `${total} bytes at the gateway`,
      );
    const states: string[] = [];
    const note = async () => {
      const { state } = await device(links.scp);
      if (states.at(-1) !== state) states.push(state);
    };

    // Line 1: garbage, record 1 split, garbage, record 2 split; then the cable is pulled.
    let cart = await openPtyPair(links.scp, join(work, "cart-1"));
    await untilState(links.scp, "connected");
    await note();
    let total = (await device(links.scp)).bytesReceived;
    for (const piece of [randomBytes(777), records[0]!, randomBytes(300), records[1]!]) {
      await writeSplit(cart, piece);
      total += piece.length;
    }
    await received(total);
    await note();
    await cart.close();
    await untilState(links.scp, "disconnected");
    await note();

    // Line 2: half of record 3, then the cable is pulled mid-record.
    cart = await openPtyPair(links.scp, join(work, "cart-2"));
    await untilState(links.scp, "connected");
    await note();
    const half = records[2]!.subarray(0, records[2]!.length >> 1);
    await writeSplit(cart, half);
    total += half.length;
    await received(total);
    await cart.close();
    await untilState(links.scp, "disconnected");

    // Line 3: record 3 whole, records 4 and 5 run together in one write with garbage between.
    cart = await openPtyPair(links.scp, join(work, "cart-3"));
    await untilState(links.scp, "connected");
    const together = Buffer.concat([records[2]!, records[3]!, randomBytes(64), records[4]!]);
    await writeSplit(cart, records[2]!);
    await cart.write(together.subarray(records[2]!.length));
    total += together.length;
    await received(total);
    await cart.close();
    await untilState(links.scp, "disconnected");

    assert.deepEqual(states, ["connected", "receiving", "disconnected", "connected"]);
    const stored = await eventually(
      async () => {
        const ecg = (await boxStudies(gateway.port("http"))).filter((s) => s.patient.id.startsWith("FAULT-"));
        return ecg.length >= 5 ? ecg : undefined;
      },
      20_000,
      "the five records at the box",
    );
    assert.deepEqual(stored.map((s) => s.patient.id).sort(), [
      "FAULT-1",
      "FAULT-2",
      "FAULT-3",
      "FAULT-4",
      "FAULT-5",
    ]);
    const after = await device(links.scp);
    assert.equal(after.recordsReceived >= 5, true);
    assert.ok(after.bytesDiscarded >= 777 + 300 + 64 + half.length, "garbage and the cut record discarded");
    for (const study of stored) {
      const instances = await countyInstances(county, study.studyInstanceUid);
      assert.equal(instances.length, 1);
      assert.ok(expected.includes(instances[0]!.sopInstanceUid), "UIDs follow from the record's bytes");
    }
    assert.equal((await fetch(`${api}/api/health`)).status, 200);
  });

  test("the simulator streams with noise, split writes, dropped frames and cable pulls: the gateway keeps up and loses no record it received", async () => {
    const before = await device(links.stream);
    const known = new Set((await boxStudies(gateway.port("http"))).map((s) => s.studyInstanceUid));
    const states = new Set<string>();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        states.add((await device(links.stream)).state);
        await sleep(25);
      }
    })();
    const run = await runSimulator([
      "--generate",
      "--link",
      links.stream,
      "--protocol",
      "ecg-stream",
      "--records",
      "4",
      "--speed",
      "10",
      "--noise",
      "300",
      "--split",
      "--drop-rate",
      "0.005",
      "--pull-every",
      "1.5",
      "--pull-for",
      "0.4",
      "--seed",
      "4242",
    ]);
    polling = false;
    await poll;
    assert.equal(run.code, 0, JSON.stringify(run.events.slice(-3)));
    const done = run.events.find((e) => e.event === "done") as { pulls: number } | undefined;
    assert.ok(done && done.pulls >= 1, "the cable was pulled at least once");
    assert.ok(states.has("disconnected") && states.has("receiving"), [...states].join(","));

    const after = await eventually(
      async () => {
        const now = await device(links.stream);
        return now.state === "disconnected" ? now : undefined;
      },
      10_000,
      "the module's line closed after the run",
    );
    const received = after.recordsReceived - before.recordsReceived;
    assert.ok(received >= 1, "records arrived despite the faults");
    assert.ok(after.bytesDiscarded > before.bytesDiscarded, "noise was discarded");
    // Every record the gateway received became a study (stream records carry no patient: each its own).
    const studies = await eventually(
      async () => {
        const fresh = (await boxStudies(gateway.port("http"))).filter(
          (s) => s.modalities.includes("ECG") && !known.has(s.studyInstanceUid),
        );
        return fresh.length >= received ? fresh : undefined;
      },
      20_000,
      `${received} new ECG studies`,
    );
    assert.equal(studies.length, received);
    assert.ok(
      studies.every((s) => s.unregistered),
      "no registration waiting: flagged unregistered",
    );
    assert.equal((await fetch(`${api}/api/health`)).status, 200);
  });

  test("the gateway logged no error and no crash through all of it", () => {
    assert.equal(gateway.child.exitCode, null, "the gateway still runs");
    const errors = gateway.lines.filter((line) => (line.level ?? 0) >= 50);
    assert.deepEqual(errors, []);
  });
});

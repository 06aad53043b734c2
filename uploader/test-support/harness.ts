/** One test's world: a broker, the fake reading centre, in-memory ports and an uploader with short timers. */
import { Writable } from "node:stream";
import { createLogger, type Logger, silentLogger } from "../../common/logger.ts";
import { createUploader, type Uploader, type UploaderOptions } from "../index.ts";
import type { SiteAddress } from "../protocol/index.ts";
import { type BrokerOptions, startBroker, type TestBroker } from "./broker.ts";
import { FakeReadingCentre } from "./fake-reading-centre.ts";
import { type TempDir, tempDir } from "./fixtures.ts";
import { MemoryInbox, MemoryQueue } from "./memory-ports.ts";

export const SITE: SiteAddress = { countyId: "c1", siteId: "s1" };
export const BOX_CLIENT_ID = "dxgate-box-c1-s1";

/** Timers short enough for a test suite, long enough not to spin. */
export const FAST: Partial<UploaderOptions> = {
  chunkSize: 16 * 1024,
  window: 4,
  ackTimeoutMs: 2000,
  // Short, for a county (the real one in some tests) that may not answer manifest-ack yet.
  manifestAckTimeoutMs: 1000,
  retry: { baseMs: 20, maxMs: 200 },
  reconnect: { baseMs: 20, maxMs: 200 },
  pollIntervalMs: 200,
  statusIntervalMs: 60_000,
  connectTimeoutMs: 2000,
};

export interface World {
  broker: TestBroker;
  peer: FakeReadingCentre;
  queue: MemoryQueue;
  inbox: MemoryInbox;
  dir: TempDir;
  uploader: Uploader;
  /** Every log line the uploader wrote (JSON), when created with `captureLogs`. */
  logLines: string[];
  close(): Promise<void>;
}

export async function world(
  overrides: Partial<UploaderOptions> = {},
  captureLogs = false,
  brokerOptions: BrokerOptions = {},
): Promise<World> {
  const broker = await startBroker(0, brokerOptions);
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const queue = new MemoryQueue();
  const inbox = new MemoryInbox();
  const dir = await tempDir();
  const logLines: string[] = [];
  const log: Logger = captureLogs
    ? createLogger({ name: "test", level: "debug", destination: lineCollector(logLines) })
    : silentLogger();
  const uploader = createUploader({
    brokerUrl: broker.url,
    site: SITE,
    queue,
    inbox,
    log,
    ...FAST,
    ...overrides,
  });
  return {
    broker,
    peer,
    queue,
    inbox,
    dir,
    uploader,
    logLines,
    async close() {
      await uploader.stop();
      await peer.close();
      await broker.kill();
      await dir.remove();
    },
  };
}

function lineCollector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
}

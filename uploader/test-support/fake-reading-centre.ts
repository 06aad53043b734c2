/**
 * A small stand-in for the county reading centre, built only from mqtt.js and the protocol codec:
 * it reassembles chunks at their offsets, verifies each instance's size and SHA-256 on commit, stores
 * verified instances (idempotently, by study and SOP Instance UID) and answers commit-ack.
 */
import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { connect, type MqttClient } from "mqtt";
import {
  type CommitAckMessage,
  type CommitMessage,
  decodeChunk,
  decodeJsonMessage,
  decodePreview,
  downTopic,
  encodeJsonMessage,
  type ManifestMessage,
  type Preview,
  parseTopic,
  type ReportAckMessage,
  type ReportMessage,
  type SiteAddress,
  type StatusMessage,
  upWildcard,
} from "../protocol/index.ts";
import { waitForEvent } from "./memory-ports.ts";

/**
 * What to do with a commit: verify and answer, answer with an error, stay silent, or verify and
 * answer only after `lateMs` (after the box gave up waiting).
 */
export type CommitAnswer = "verify" | "error" | "silent" | "late";
export type CommitBehaviour = (commit: CommitMessage, commitNumber: number) => CommitAnswer;

export type PeerEvent =
  | { kind: "manifest"; message: ManifestMessage }
  | { kind: "chunk"; transferId: string; sopInstanceUid: string; offset: number; bytes: number }
  | { kind: "preview"; preview: Preview }
  | { kind: "commit"; message: CommitMessage }
  | { kind: "commit-ack"; message: CommitAckMessage }
  | { kind: "status"; message: StatusMessage; retained: boolean }
  | { kind: "report-ack"; message: ReportAckMessage };

interface Staging {
  site: SiteAddress;
  manifest: ManifestMessage;
  files: Map<string, Buffer>;
}

export class FakeReadingCentre {
  /** study UID → SOP Instance UID → verified bytes. */
  readonly stored = new Map<string, Map<string, Buffer>>();
  readonly events: PeerEvent[] = [];
  behaviour: CommitBehaviour = () => "verify";
  lateMs = 700;
  readonly #client: MqttClient;
  readonly #emitter = new EventEmitter();
  readonly #staging = new Map<string, Staging>();
  #commits = 0;
  #subscriptions = 0;

  private constructor(client: MqttClient, countyId: string) {
    this.#client = client;
    client.on("message", (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    client.on("error", () => {});
    // Subscribe on every connect ourselves: mqtt.js's own resubscribe is not awaited, and its
    // subscribe() skips topics it believes are already subscribed (even on a new broker).
    client.on("connect", () => {
      client.subscribeAsync(upWildcard(countyId), { qos: 1 }).then(
        () => {
          this.#subscriptions += 1;
        },
        () => {},
      );
    });
  }

  static async start(brokerUrl: string, countyId: string): Promise<FakeReadingCentre> {
    const client = connect(brokerUrl, {
      protocolVersion: 4,
      clientId: `test-reading-centre-${randomUUID()}`,
      clean: true,
      reconnectPeriod: 50,
      resubscribe: false,
    });
    const peer = new FakeReadingCentre(client, countyId);
    await peer.subscribed(1);
    return peer;
  }

  /** How many times the peer has (re)subscribed: once per connection to a broker. */
  get subscriptions(): number {
    return this.#subscriptions;
  }

  /** Wait until the peer has subscribed `count` times in all (e.g. again after a broker restart). */
  async subscribed(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#subscriptions < count) {
      if (Date.now() > deadline)
        throw new Error(`peer subscribed ${this.#subscriptions} times, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  of<K extends PeerEvent["kind"]>(kind: K): Extract<PeerEvent, { kind: K }>[] {
    return this.events.filter((event): event is Extract<PeerEvent, { kind: K }> => event.kind === kind);
  }

  waitFor<K extends PeerEvent["kind"]>(
    kind: K,
    predicate: (event: Extract<PeerEvent, { kind: K }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<PeerEvent, { kind: K }>> {
    const match = (event: PeerEvent): event is Extract<PeerEvent, { kind: K }> =>
      event.kind === kind && predicate(event as Extract<PeerEvent, { kind: K }>);
    return waitForEvent(this.#emitter, this.events, match, timeoutMs) as Promise<
      Extract<PeerEvent, { kind: K }>
    >;
  }

  async sendReport(site: SiteAddress, report: ReportMessage | Buffer): Promise<void> {
    const payload = Buffer.isBuffer(report) ? report : encodeJsonMessage(report);
    await this.#client.publishAsync(downTopic(site, "report"), payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.#client.endAsync(true);
  }

  #record(event: PeerEvent): void {
    this.events.push(event);
    this.#emitter.emit("event", event);
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const parsed = parseTopic(topic);
    if (parsed?.direction !== "up") return;
    const site = { countyId: parsed.countyId, siteId: parsed.siteId };
    switch (parsed.kind) {
      case "manifest": {
        const manifest = decodeJsonMessage(payload, "manifest");
        const files = new Map(manifest.instances.map((i) => [i.sopInstanceUid, Buffer.alloc(i.size)]));
        this.#staging.set(manifest.transferId, { site, manifest, files });
        this.#record({ kind: "manifest", message: manifest });
        break;
      }
      case "chunk": {
        const chunk = decodeChunk(payload);
        const file = this.#staging.get(chunk.transferId)?.files.get(chunk.sopInstanceUid);
        if (file && chunk.offset + chunk.data.length <= file.length) chunk.data.copy(file, chunk.offset);
        this.#record({
          kind: "chunk",
          transferId: chunk.transferId,
          sopInstanceUid: chunk.sopInstanceUid,
          offset: chunk.offset,
          bytes: chunk.data.length,
        });
        break;
      }
      case "commit": {
        const commit = decodeJsonMessage(payload, "commit");
        this.#commits += 1;
        this.#record({ kind: "commit", message: commit });
        this.#answer(site, commit, this.behaviour(commit, this.#commits));
        break;
      }
      case "preview":
        // decodePreview verifies the header, size, SHA-256 and media type; it never answers.
        this.#record({ kind: "preview", preview: decodePreview(payload) });
        break;
      case "status":
        this.#record({ kind: "status", message: decodeJsonMessage(payload, "status"), retained });
        break;
      case "report-ack":
        this.#record({ kind: "report-ack", message: decodeJsonMessage(payload, "report-ack") });
        break;
    }
  }

  #answer(site: SiteAddress, commit: CommitMessage, behaviour: CommitAnswer): void {
    if (behaviour === "silent") return;
    if (behaviour === "late") {
      setTimeout(() => this.#answer(site, commit, "verify"), this.lateMs);
      return;
    }
    const staging = this.#staging.get(commit.transferId);
    const base = {
      v: 1,
      type: "commit-ack",
      sentAt: new Date().toISOString(),
      transferId: commit.transferId,
      studyInstanceUid: commit.studyInstanceUid,
    } as const;
    let ack: CommitAckMessage;
    if (!staging) {
      ack = {
        ...base,
        status: "error",
        stored: [],
        missing: [],
        error: { code: "UNKNOWN_TRANSFER", message: "no manifest" },
      };
    } else if (behaviour === "error") {
      ack = {
        ...base,
        status: "error",
        stored: [],
        missing: staging.manifest.instances.map((i) => i.sopInstanceUid),
        error: { code: "TEST_REFUSED", message: "refused by the test" },
      };
    } else {
      const study = this.stored.get(commit.studyInstanceUid) ?? new Map<string, Buffer>();
      this.stored.set(commit.studyInstanceUid, study);
      for (const instance of staging.manifest.instances) {
        const file = staging.files.get(instance.sopInstanceUid)!;
        const sha = createHash("sha256").update(file).digest("hex");
        if (sha === instance.sha256 && !study.has(instance.sopInstanceUid))
          study.set(instance.sopInstanceUid, file);
      }
      const uids = staging.manifest.instances.map((i) => i.sopInstanceUid);
      const missing = uids.filter((uid) => !study.has(uid));
      ack = {
        ...base,
        status: missing.length === 0 ? "ok" : "error",
        stored: uids.filter((uid) => study.has(uid)),
        missing,
        ...(missing.length > 0
          ? { error: { code: "INCOMPLETE", message: `${missing.length} missing` } }
          : {}),
      };
    }
    this.#record({ kind: "commit-ack", message: ack });
    void this.#client.publishAsync(downTopic(site, "commit-ack"), encodeJsonMessage(ack), { qos: 1 });
  }
}

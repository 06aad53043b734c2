/**
 * A small stand-in for the county reading centre, built only from mqtt.js and the protocol codec:
 * it answers each manifest with a manifest-ack (the chunk size to use, and the byte ranges it already
 * holds of each instance's content, from earlier attempts or stored), reassembles chunks at their
 * offsets, verifies each instance's size and SHA-256 on commit, stores verified instances
 * (idempotently, by study and SOP Instance UID) and answers commit-ack.
 */
import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { connect, type MqttClient } from "mqtt";
import {
  type CommitAckMessage,
  type CommitMessage,
  coveredBytes,
  decodeChunk,
  decodeJsonMessage,
  decodePreview,
  downTopic,
  encodeJsonMessage,
  type HeldRange,
  type ManifestAckMessage,
  type ManifestMessage,
  mergeRanges,
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

/**
 * How to answer a manifest: "ok" with what the fake holds (or the given chunk size / held ranges),
 * an error (a refusal, e.g. QUOTA_EXCEEDED with retryAfterMs), or no answer at all (an older county).
 */
export type ManifestAckAnswer =
  | { kind: "ok"; chunkSize?: number; held?: HeldRange[] }
  | { kind: "error"; code: string; retryAfterMs?: number }
  | { kind: "silent" };
export type ManifestAckBehaviour = (manifest: ManifestMessage, manifestNumber: number) => ManifestAckAnswer;

export type PeerEvent =
  | { kind: "manifest"; message: ManifestMessage; payload: Buffer }
  | { kind: "manifest-ack"; message: ManifestAckMessage }
  | { kind: "chunk"; transferId: string; sopInstanceUid: string; offset: number; bytes: number }
  | { kind: "preview"; preview: Preview }
  | { kind: "commit"; message: CommitMessage }
  | { kind: "commit-ack"; message: CommitAckMessage }
  | { kind: "status"; message: StatusMessage; retained: boolean }
  | { kind: "report-ack"; message: ReportAckMessage };

interface Staging {
  site: SiteAddress;
  manifest: ManifestMessage;
}

/** What the fake holds of one instance content (site + SOP Instance UID + SHA-256 + size), across attempts. */
interface Content {
  data: Buffer;
  ranges: Array<[number, number]>;
}

export class FakeReadingCentre {
  /** study UID → SOP Instance UID → verified bytes. */
  readonly stored = new Map<string, Map<string, Buffer>>();
  readonly events: PeerEvent[] = [];
  behaviour: CommitBehaviour = () => "verify";
  manifestAck: ManifestAckBehaviour = () => ({ kind: "ok" });
  /** Chunks to lose (recorded as received, never stored), as a cut link would. */
  dropChunk: (chunk: { transferId: string; sopInstanceUid: string; offset: number }) => boolean = () => false;
  /** The county's chunk-size ceiling: the manifest-ack's chunkSize is min(offer, this). */
  maxChunkBytes = 256 * 1024;
  lateMs = 700;
  readonly #client: MqttClient;
  readonly #emitter = new EventEmitter();
  readonly #staging = new Map<string, Staging>();
  readonly #content = new Map<string, Content>();
  #commits = 0;
  #manifests = 0;
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

  /** `connection`: a CA to verify a TLS broker with, and credentials for a broker that wants them. */
  static async start(
    brokerUrl: string,
    countyId: string,
    connection: { ca?: Buffer; cert?: Buffer; key?: Buffer; username?: string; password?: string } = {},
  ): Promise<FakeReadingCentre> {
    const client = connect(brokerUrl, {
      ...connection,
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
        this.#manifests += 1;
        this.#staging.set(manifest.transferId, { site, manifest });
        this.#record({ kind: "manifest", message: manifest, payload });
        this.#answerManifest(site, manifest, this.manifestAck(manifest, this.#manifests));
        break;
      }
      case "chunk": {
        const chunk = decodeChunk(payload);
        const staging = this.#staging.get(chunk.transferId);
        const instance = staging?.manifest.instances.find((i) => i.sopInstanceUid === chunk.sopInstanceUid);
        if (
          staging &&
          instance &&
          chunk.offset + chunk.data.length <= instance.size &&
          !this.dropChunk(chunk)
        ) {
          const content = this.#contentOf(staging.site, instance);
          chunk.data.copy(content.data, chunk.offset);
          content.ranges = mergeRanges([...content.ranges, [chunk.offset, chunk.offset + chunk.data.length]]);
        }
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

  #contentOf(site: SiteAddress, instance: ManifestMessage["instances"][number]): Content {
    const key = contentKey(site, instance);
    let content = this.#content.get(key);
    if (!content) {
      content = { data: Buffer.alloc(instance.size), ranges: [] };
      this.#content.set(key, content);
    }
    return content;
  }

  /** What the fake holds of the manifest's instances: stored ones whole, staged ones by range. */
  heldRanges(site: SiteAddress, manifest: ManifestMessage): HeldRange[] {
    const study = this.stored.get(manifest.study.studyInstanceUid);
    return manifest.instances.flatMap((instance, index): HeldRange[] => {
      const stored = study?.get(instance.sopInstanceUid);
      if (stored && stored.length === instance.size) return [[index, 0, instance.size]];
      const content = this.#content.get(contentKey(site, instance));
      return (content?.ranges ?? []).map(([start, end]): HeldRange => [index, start, end]);
    });
  }

  #answerManifest(site: SiteAddress, manifest: ManifestMessage, answer: ManifestAckAnswer): void {
    if (answer.kind === "silent") return;
    const base = {
      v: 1,
      type: "manifest-ack",
      sentAt: new Date().toISOString(),
      transferId: manifest.transferId,
      studyInstanceUid: manifest.study.studyInstanceUid,
    } as const;
    const chunkSize = Math.min(manifest.chunkSize, this.maxChunkBytes);
    const ack: ManifestAckMessage =
      answer.kind === "error"
        ? {
            ...base,
            status: "error",
            chunkSize,
            held: [],
            error: { code: answer.code, message: "refused by the test" },
            ...(answer.retryAfterMs !== undefined ? { retryAfterMs: answer.retryAfterMs } : {}),
          }
        : {
            ...base,
            status: "ok",
            chunkSize: answer.chunkSize ?? chunkSize,
            held: answer.held ?? this.heldRanges(site, manifest),
          };
    this.#record({ kind: "manifest-ack", message: ack });
    void this.#client.publishAsync(downTopic(site, "manifest-ack"), encodeJsonMessage(ack), { qos: 1 });
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
        if (study.has(instance.sopInstanceUid)) continue;
        const content = this.#contentOf(staging.site, instance);
        if (coveredBytes(content.ranges) !== instance.size) continue;
        const sha = createHash("sha256").update(content.data).digest("hex");
        if (sha === instance.sha256) {
          study.set(instance.sopInstanceUid, content.data);
          this.#content.delete(contentKey(staging.site, instance));
        }
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

function contentKey(
  site: SiteAddress,
  instance: { sopInstanceUid: string; sha256: string; size: number },
): string {
  return `${site.siteId}|${instance.sopInstanceUid}|${instance.sha256}|${instance.size}`;
}

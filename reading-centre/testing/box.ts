/**
 * Test support (not a test file): a box as the reading centre sees it, a real mqtt.js client that
 * speaks the transfer protocol with the protocol module's own encoders.
 */
import { createHash, type KeyObject, randomBytes, randomUUID } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import {
  type ByteRange,
  type CommitAckMessage,
  type CommitMessage,
  chunkRanges,
  downWildcard,
  encodeChunk,
  encodeJsonMessage,
  encodePreview,
  type HeldRange,
  type InstanceDescriptor,
  type JsonMessage,
  type ManifestAckMessage,
  type ManifestMessage,
  missingRanges,
  type PreviewHeader,
  parseTopic,
  type ReportMessage,
  type StudyDescriptor,
  signMessage,
  type UpKind,
  upTopic,
} from "../../uploader/protocol/index.ts";
import { boxCredentialsFor } from "./harness.ts";

export interface TestInstance {
  descriptor: InstanceDescriptor;
  bytes: Buffer;
}

export interface TestStudy {
  study: StudyDescriptor;
  instances: TestInstance[];
}

let uidCounter = 0;
function uid(): string {
  return `1.2.826.0.1.3680043.10.${process.pid}.${Date.now() % 1e9}.${++uidCounter}`;
}

export function makeInstance(size: number, sopInstanceUid = uid()): TestInstance {
  const bytes = randomBytes(size);
  return {
    bytes,
    descriptor: {
      sopInstanceUid,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.6.1",
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      seriesInstanceUid: "1.2.3.4.5",
      size,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    },
  };
}

export function makeStudy(
  options: {
    studyInstanceUid?: string;
    patientId?: string;
    sizes?: number[];
    priority?: StudyDescriptor["priority"];
  } = {},
): TestStudy {
  return {
    study: {
      studyInstanceUid: options.studyInstanceUid ?? uid(),
      priority: options.priority ?? "routine",
      modalities: ["US"],
      patient: {
        id: options.patientId ?? "10023",
        name: "TEST^PATIENT",
        sex: "F",
        birthDate: "19800101",
        age: "045Y",
      },
      studyDate: "20261125",
      studyTime: "101500",
      studyDescription: "test study",
      accessionNumber: "A1",
      receivedAt: new Date().toISOString(),
    },
    instances: (options.sizes ?? [5000, 12000, 3000]).map((size) => makeInstance(size)),
  };
}

export function manifestOf(study: TestStudy, transferId: string, chunkSize: number): ManifestMessage {
  return {
    v: 1,
    type: "manifest",
    sentAt: new Date().toISOString(),
    transferId,
    study: study.study,
    instances: study.instances.map((i) => i.descriptor),
    chunkSize,
  };
}

/**
 * Bytes that pass the protocol's PNG check: the PNG signature, then `size - 8` bytes derived from
 * `seed` (not a decodable image; the reading centre never decodes one).
 */
export function fakePng(size: number, seed = 1): Buffer {
  const body = Buffer.alloc(Math.max(0, size - 8));
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + seed * 17) & 0xff;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), body]);
}

/** A preview header that matches `data`. */
export function previewHeader(
  studyInstanceUid: string,
  previewId: string,
  data: Buffer,
  overrides: Partial<PreviewHeader> = {},
): PreviewHeader {
  return {
    studyInstanceUid,
    previewId,
    mediaType: "image/png",
    sha256: createHash("sha256").update(data).digest("hex"),
    size: data.length,
    ...overrides,
  };
}

export interface Received {
  kind: string;
  message: JsonMessage;
}

export class FakeBox {
  readonly siteId: string;
  readonly countyId: string;
  readonly client: MqttClient;
  readonly received: Received[] = [];
  /** Every chunk this box published, in order. */
  readonly sent: Array<{ transferId: string; sopInstanceUid: string; offset: number; length: number }> = [];
  readonly #manifestShas = new Map<string, string>();
  /** The key the county registered for this site, if any: manifests and commits are signed with it. */
  signingKey: KeyObject | undefined;

  private constructor(client: MqttClient, siteId: string, countyId: string, signingKey?: KeyObject) {
    this.client = client;
    this.signingKey = signingKey;
    this.siteId = siteId;
    this.countyId = countyId;
    client.on("message", (topic, payload) => {
      const parsed = parseTopic(topic);
      if (parsed?.direction === "down") {
        this.received.push({ kind: parsed.kind, message: JSON.parse(payload.toString()) as JsonMessage });
      }
    });
  }

  /**
   * Connect as the site's box: at a reading centre started by `startRc`, with the site's registered
   * credentials and client id (registered on first use: the broker refuses anonymous boxes);
   * anonymously anywhere else (a test's own Mosquitto).
   */
  static async connect(mqttPort: number, siteId: string, countyId = "county"): Promise<FakeBox> {
    const credentials = await boxCredentialsFor(mqttPort, siteId);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      protocolVersion: 4,
      clean: true,
      clientId: credentials?.clientId ?? `box-${siteId}-${randomUUID().slice(0, 8)}`,
      ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
      reconnectPeriod: 0,
    });
    await client.subscribeAsync(downWildcard({ countyId, siteId }), { qos: 1 });
    return new FakeBox(client, siteId, countyId, credentials?.signingKey);
  }

  async publish(kind: UpKind, payload: Buffer | string, options: { retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(upTopic({ countyId: this.countyId, siteId: this.siteId }, kind), payload, {
      qos: 1,
      retain: options.retain ?? false,
    });
  }

  /** Wait for a down message (not counting those already consumed by earlier waits when `after` is given). */
  async waitFor<T extends JsonMessage>(
    kind: string,
    predicate: (message: T) => boolean = () => true,
    options: { timeoutMs?: number; after?: number } = {},
  ): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? 3000);
    for (;;) {
      const found = this.received
        .slice(options.after ?? 0)
        .find((r) => r.kind === kind && predicate(r.message as T));
      if (found) return found.message as T;
      if (Date.now() > deadline) throw new Error(`box ${this.siteId}: no ${kind} message arrived`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  count(kind: string, predicate: (message: JsonMessage) => boolean = () => true): number {
    return this.received.filter((r) => r.kind === kind && predicate(r.message)).length;
  }

  /** Publish a preview (QoS 1). Resolves on the broker's PUBACK; wait for the receiver's log to see it handled. */
  async sendPreview(header: PreviewHeader, data: Buffer): Promise<void> {
    await this.publish("preview", encodePreview(header, data));
  }

  /**
   * Publish a manifest, signed with `key` (by default the key the county registered for this site,
   * if any; `null`: unsigned); `edit` may alter it after signing. Resolves with the SHA-256 of its payload.
   */
  async sendManifest(
    study: TestStudy,
    transferId: string,
    chunkSize = 4096,
    options: { key?: KeyObject | null; edit?: (m: ManifestMessage) => ManifestMessage } = {},
  ): Promise<string> {
    let manifest = manifestOf(study, transferId, chunkSize);
    const key = options.key === undefined ? this.signingKey : options.key;
    if (key) manifest = signMessage(this.#topic("manifest"), manifest, key);
    if (options.edit) manifest = options.edit(manifest);
    const payload = encodeJsonMessage(manifest);
    const sha = createHash("sha256").update(payload).digest("hex");
    this.#manifestShas.set(transferId, sha);
    await this.publish("manifest", payload);
    return sha;
  }

  waitManifestAck(transferId: string, timeoutMs = 5000): Promise<ManifestAckMessage> {
    return this.waitFor<ManifestAckMessage>("manifest-ack", (m) => m.transferId === transferId, {
      timeoutMs,
    });
  }

  /**
   * Publish chunks of every instance: all of it, or (with `held`, a manifest-ack's list) only what
   * is missing, cut at `chunkSize` like the real uploader. `corrupt` flips a byte of that instance's
   * first chunk after its SHA-256 was taken (damage on the way: the county must refuse it);
   * `only` filters by instance and offset. Every chunk published is appended to `sent`.
   */
  async sendChunks(
    study: TestStudy,
    transferId: string,
    options: {
      chunkSize?: number;
      corrupt?: string;
      only?: (sop: string, offset: number) => boolean;
      held?: HeldRange[];
    } = {},
  ): Promise<void> {
    const chunkSize = options.chunkSize ?? 4096;
    for (const [index, instance] of study.instances.entries()) {
      const sop = instance.descriptor.sopInstanceUid;
      const held: ByteRange[] = (options.held ?? [])
        .filter(([i]) => i === index)
        .map(([, start, end]) => [start, end]);
      let first = true;
      for (const [offset, length] of chunkRanges(missingRanges(instance.bytes.length, held), chunkSize)) {
        if (options.only && !options.only(sop, offset)) continue;
        const data = Buffer.from(instance.bytes.subarray(offset, offset + length));
        const sha256 = createHash("sha256").update(data).digest("hex");
        if (options.corrupt === sop && first) data[0] = data[0]! ^ 0xff;
        first = false;
        await this.publish("chunk", encodeChunk({ transferId, sopInstanceUid: sop, offset, sha256 }, data));
        this.sent.push({ transferId, sopInstanceUid: sop, offset, length });
      }
    }
  }

  /**
   * Publish the commit (with the SHA-256 of the manifest this box sent for the transfer, signed like
   * the manifest) and wait for its ack.
   */
  async sendCommit(
    study: TestStudy,
    transferId: string,
    options: { key?: KeyObject | null; manifestSha256?: string; timeoutMs?: number } = {},
  ): Promise<CommitAckMessage> {
    const manifestSha256 = options.manifestSha256 ?? this.#manifestShas.get(transferId);
    let commit: CommitMessage = {
      v: 1,
      type: "commit",
      sentAt: new Date().toISOString(),
      transferId,
      studyInstanceUid: study.study.studyInstanceUid,
      instanceCount: study.instances.length,
      ...(manifestSha256 === undefined ? {} : { manifestSha256 }),
    };
    const key = options.key === undefined ? this.signingKey : options.key;
    if (key) commit = signMessage(this.#topic("commit"), commit, key);
    await this.publish("commit", encodeJsonMessage(commit));
    return this.waitFor<CommitAckMessage>("commit-ack", (m) => m.transferId === transferId, {
      timeoutMs: options.timeoutMs ?? 8000,
    });
  }

  /**
   * One whole upload attempt, like the real box: manifest, wait for the manifest-ack, only the
   * missing ranges at the negotiated chunk size, commit; resolves with the commit-ack. A refused
   * manifest resolves with a commit-ack-shaped error carrying the manifest-ack's code, no commit sent.
   * `waitForAck: false` behaves like a box that predates the manifest-ack (sends everything).
   */
  async sendStudy(
    study: TestStudy,
    options: { corrupt?: string; chunkSize?: number; key?: KeyObject | null; waitForAck?: boolean } = {},
  ): Promise<CommitAckMessage> {
    const transferId = `t-${randomUUID()}`;
    let chunkSize = options.chunkSize ?? 4096;
    const signing = options.key === undefined ? {} : { key: options.key };
    await this.sendManifest(study, transferId, chunkSize, signing);
    let held: HeldRange[] = [];
    if (options.waitForAck !== false) {
      const ack = await this.waitManifestAck(transferId);
      if (ack.status !== "ok") {
        return {
          v: 1,
          type: "commit-ack",
          sentAt: ack.sentAt,
          transferId,
          studyInstanceUid: study.study.studyInstanceUid,
          status: "error",
          stored: [],
          missing: [],
          error: ack.error ?? { code: "UPLOAD_REFUSED", message: "manifest refused" },
        };
      }
      chunkSize = ack.chunkSize;
      held = ack.held;
    }
    await this.sendChunks(study, transferId, {
      chunkSize,
      held,
      ...(options.corrupt ? { corrupt: options.corrupt } : {}),
    });
    return this.sendCommit(study, transferId, signing);
  }

  async ackReport(report: ReportMessage, status: "ok" | "error" = "ok"): Promise<void> {
    await this.publish(
      "report-ack",
      encodeJsonMessage({
        v: 1,
        type: "report-ack",
        sentAt: new Date().toISOString(),
        reportId: report.reportId,
        studyInstanceUid: report.studyInstanceUid,
        status,
        ...(status === "error" ? { error: { code: "DISK_FULL", message: "no space" } } : {}),
      }),
    );
  }

  async sendStatus(online: boolean, queueDepth = 0): Promise<void> {
    await this.publish(
      "status",
      encodeJsonMessage({ v: 1, type: "status", sentAt: new Date().toISOString(), online, queueDepth }),
      { retain: true },
    );
  }

  #topic(kind: UpKind): string {
    return upTopic({ countyId: this.countyId, siteId: this.siteId }, kind);
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

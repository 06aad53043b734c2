/**
 * The box's outbound queue for bench/link.ts, in memory: studies whose files were written to disk,
 * ordered as the gateway's spool orders them (priority stat → urgent → routine, then queue time),
 * with the optional parts of the port (peek, preempted, pendingPreviews, stats) so the uploader can
 * preempt and send previews first. Every call is timestamped for the measurements.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  OutboundInstance,
  OutboundPreview,
  OutboundQueue,
  OutboundStudy,
  Priority,
  ReportInbox,
  ReportMessage,
} from "../../uploader/index.ts";

const RANK: Readonly<Record<Priority, number>> = { stat: 0, urgent: 1, routine: 2 };

interface Entry {
  outbound: OutboundStudy;
  queuedAt: number;
  bytes: number;
}

export interface QueueEvent {
  kind: "ready" | "uploading" | "delivered" | "failed" | "preempted";
  uid: string;
  at: number;
  reason?: string;
}

export class BenchQueue implements OutboundQueue {
  readonly events: QueueEvent[] = [];
  readonly #entries = new Map<string, Entry>();
  readonly #listeners: Array<() => void> = [];
  readonly #waiters: Array<{ match: (e: QueueEvent) => boolean; resolve: (e: QueueEvent) => void }> = [];

  add(outbound: OutboundStudy): void {
    const bytes = outbound.instances.reduce((sum, i) => sum + i.size, 0);
    this.#entries.set(outbound.study.studyInstanceUid, { outbound, queuedAt: Date.now(), bytes });
    this.#record("ready", outbound.study.studyInstanceUid);
    for (const listener of this.#listeners) listener();
  }

  #ordered(exclude?: ReadonlySet<string>): Entry[] {
    return [...this.#entries.values()]
      .filter((e) => !exclude?.has(e.outbound.study.studyInstanceUid))
      .sort(
        (a, b) =>
          RANK[a.outbound.study.priority] - RANK[b.outbound.study.priority] || a.queuedAt - b.queuedAt,
      );
  }

  async next(exclude?: ReadonlySet<string>): Promise<OutboundStudy | undefined> {
    return this.#ordered(exclude)[0]?.outbound;
  }

  async peek(
    exclude?: ReadonlySet<string>,
  ): Promise<{ studyInstanceUid: string; priority: Priority } | undefined> {
    const head = this.#ordered(exclude)[0];
    return head
      ? { studyInstanceUid: head.outbound.study.studyInstanceUid, priority: head.outbound.study.priority }
      : undefined;
  }

  async pendingPreviews(
    exclude?: ReadonlySet<string>,
  ): Promise<Array<{ studyInstanceUid: string; priority: Priority; previews: OutboundPreview[] }>> {
    return this.#ordered(exclude)
      .filter((e) => (e.outbound.previews?.length ?? 0) > 0)
      .map((e) => ({
        studyInstanceUid: e.outbound.study.studyInstanceUid,
        priority: e.outbound.study.priority,
        previews: e.outbound.previews!,
      }));
  }

  async stats(): Promise<{ depth: number; bytes: number; stat: number; oldestQueuedAt?: string }> {
    const entries = [...this.#entries.values()];
    const oldest = Math.min(...entries.map((e) => e.queuedAt));
    return {
      depth: entries.length,
      bytes: entries.reduce((sum, e) => sum + e.bytes, 0),
      stat: entries.filter((e) => e.outbound.study.priority === "stat").length,
      ...(entries.length > 0 ? { oldestQueuedAt: new Date(oldest).toISOString() } : {}),
    };
  }

  async uploading(uid: string): Promise<void> {
    this.#record("uploading", uid);
  }

  async delivered(uid: string): Promise<void> {
    this.#entries.delete(uid);
    this.#record("delivered", uid);
  }

  async failed(uid: string, reason: string): Promise<void> {
    this.#record("failed", uid, reason);
  }

  async preempted(uid: string): Promise<void> {
    this.#record("preempted", uid);
  }

  async depth(): Promise<number> {
    return this.#entries.size;
  }

  onReady(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The first event (past or future) of `kind` for `uid`. */
  waitFor(kind: QueueEvent["kind"], uid: string, timeoutMs: number): Promise<QueueEvent> {
    const match = (e: QueueEvent) => e.kind === kind && e.uid === uid;
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${kind} of ${uid} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  #record(kind: QueueEvent["kind"], uid: string, reason?: string): void {
    const event: QueueEvent = { kind, uid, at: Date.now(), ...(reason ? { reason } : {}) };
    this.events.push(event);
    for (let i = this.#waiters.length - 1; i >= 0; i -= 1) {
      const waiter = this.#waiters[i]!;
      if (waiter.match(event)) {
        this.#waiters.splice(i, 1);
        waiter.resolve(event);
      }
    }
  }
}

/** Reports are not part of these measurements: accepted and dropped. */
export class NullInbox implements ReportInbox {
  async accept(_report: ReportMessage): Promise<void> {}
}

let studyCounter = 0;

/**
 * A study of `sizes.length` instances of random (incompressible) bytes, written under `dir`, with
 * descriptors that match the files; optionally one PNG-signed preview of `previewBytes`.
 */
export async function writeStudy(
  dir: string,
  options: {
    sizes: number[];
    priority: Priority;
    modality: string;
    sopClassUid: string;
    description: string;
    previewBytes?: number;
  },
): Promise<OutboundStudy> {
  studyCounter += 1;
  const studyInstanceUid = `2.25.${process.pid}${Date.now() % 1e9}${String(studyCounter).padStart(4, "0")}`;
  const studyDir = join(dir, studyInstanceUid);
  await mkdir(studyDir, { recursive: true });
  const instances: OutboundInstance[] = [];
  for (const [index, size] of options.sizes.entries()) {
    const sopInstanceUid = `${studyInstanceUid}.${index + 1}`;
    const data = randomBytes(size);
    const path = join(studyDir, `${index + 1}.dcm`);
    await writeFile(path, data);
    instances.push({
      sopInstanceUid,
      sopClassUid: options.sopClassUid,
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      seriesInstanceUid: `${studyInstanceUid}.0`,
      size,
      sha256: createHash("sha256").update(data).digest("hex"),
      path,
    });
  }
  const previews: OutboundPreview[] = [];
  if (options.previewBytes) {
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      randomBytes(options.previewBytes - 8),
    ]);
    const path = join(studyDir, "sheet-1.png");
    await writeFile(path, png);
    previews.push({
      previewId: "sheet-1",
      mediaType: "image/png",
      path,
      size: png.length,
      sha256: createHash("sha256").update(png).digest("hex"),
      width: 1600,
      height: 1200,
      description: "12-lead sheet",
    });
  }
  return {
    study: {
      studyInstanceUid,
      priority: options.priority,
      modalities: [options.modality],
      patient: { id: "BENCH-1", name: "BENCH^PATIENT", sex: "O", birthDate: "19700101", age: "056Y" },
      studyDate: "20261125",
      studyTime: "120000",
      studyDescription: options.description,
      accessionNumber: "BENCH",
      receivedAt: new Date().toISOString(),
    },
    instances,
    ...(previews.length > 0 ? { previews } : {}),
  };
}

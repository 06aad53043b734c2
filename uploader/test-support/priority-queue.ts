/**
 * An in-memory OutboundQueue with the whole port (peek, preempted, pendingPreviews, stats), ordered
 * as the gateway's StudyService orders: priority (stat, urgent, routine), then the time a study was
 * queued. Records every call, like MemoryQueue.
 */
import { EventEmitter } from "node:events";
import { PRIORITY_RANK, type Priority } from "../protocol/index.ts";
import type { OutboundQueue, OutboundStudy, PendingPreviews, QueueHead, QueueStats } from "../types.ts";
import { waitForEvent } from "./memory-ports.ts";

export type PriorityQueueEvent =
  | { kind: "uploading"; uid: string }
  | { kind: "delivered"; uid: string; stored: string[] }
  | { kind: "failed"; uid: string; reason: string }
  | { kind: "preempted"; uid: string };

interface Entry {
  outbound: OutboundStudy;
  /** Order of queueing (kept when preempted, renewed when failed, as StudyService does). */
  queuedAt: number;
  uploading: boolean;
}

export class PriorityQueue implements OutboundQueue {
  readonly events: PriorityQueueEvent[] = [];
  /** How often `peek` was asked (the sender asks at chunk boundaries, rate-limited). */
  peeks = 0;
  /** Studies `next` skips though `peek` reports them (as StudyService skips a study with no files). */
  readonly unsendable = new Set<string>();
  readonly #entries = new Map<string, Entry>();
  readonly #emitter = new EventEmitter();
  readonly #readyListeners: Array<() => void> = [];
  #clock = 0;

  /** Queue a study with the given priority; listeners hear "ready". */
  add(outbound: OutboundStudy, priority?: Priority): void {
    if (priority) outbound.study.priority = priority;
    this.#clock += 1;
    this.#entries.set(outbound.study.studyInstanceUid, { outbound, queuedAt: this.#clock, uploading: false });
    for (const listener of this.#readyListeners) listener();
  }

  has(uid: string): boolean {
    return this.#entries.has(uid);
  }

  async next(exclude?: ReadonlySet<string>): Promise<OutboundStudy | undefined> {
    return this.#ready(exclude).find((e) => !this.unsendable.has(e.outbound.study.studyInstanceUid))
      ?.outbound;
  }

  async peek(exclude?: ReadonlySet<string>): Promise<QueueHead | undefined> {
    this.peeks += 1;
    const head = this.#ready(exclude)[0];
    return (
      head && {
        studyInstanceUid: head.outbound.study.studyInstanceUid,
        priority: head.outbound.study.priority,
      }
    );
  }

  async pendingPreviews(exclude?: ReadonlySet<string>): Promise<PendingPreviews[]> {
    return this.#ready(exclude)
      .filter((entry) => (entry.outbound.previews?.length ?? 0) > 0)
      .map((entry) => ({
        studyInstanceUid: entry.outbound.study.studyInstanceUid,
        priority: entry.outbound.study.priority,
        previews: entry.outbound.previews!,
      }));
  }

  async stats(): Promise<QueueStats> {
    const all = [...this.#entries.values()];
    const oldest = all.map((e) => e.outbound.study.receivedAt).sort()[0];
    return {
      depth: all.length,
      bytes: all.reduce((sum, e) => sum + e.outbound.instances.reduce((s, i) => s + i.size, 0), 0),
      stat: all.filter((e) => e.outbound.study.priority === "stat").length,
      ...(oldest ? { oldestQueuedAt: oldest } : {}),
    };
  }

  async uploading(uid: string): Promise<void> {
    const entry = this.#entries.get(uid);
    if (entry) entry.uploading = true;
    this.#record({ kind: "uploading", uid });
  }

  async delivered(uid: string, stored: string[]): Promise<void> {
    this.#entries.delete(uid);
    this.#record({ kind: "delivered", uid, stored });
  }

  async failed(uid: string, reason: string): Promise<void> {
    const entry = this.#entries.get(uid);
    if (entry) {
      entry.uploading = false;
      this.#clock += 1;
      entry.queuedAt = this.#clock;
    }
    this.#record({ kind: "failed", uid, reason });
  }

  async preempted(uid: string): Promise<void> {
    const entry = this.#entries.get(uid);
    if (entry) entry.uploading = false;
    this.#record({ kind: "preempted", uid });
  }

  async depth(): Promise<number> {
    return this.#entries.size;
  }

  onReady(listener: () => void): void {
    this.#readyListeners.push(listener);
  }

  /** The recorded calls for one study, as "kind" strings in order. */
  historyOf(uid: string): string[] {
    return this.events.filter((e) => e.uid === uid).map((e) => e.kind);
  }

  waitFor(
    predicate: (event: PriorityQueueEvent) => boolean,
    timeoutMs = 20_000,
  ): Promise<PriorityQueueEvent> {
    return waitForEvent(this.#emitter, this.events, predicate, timeoutMs);
  }

  #ready(exclude?: ReadonlySet<string>): Entry[] {
    return [...this.#entries.values()]
      .filter((e) => !e.uploading && !exclude?.has(e.outbound.study.studyInstanceUid))
      .sort(
        (a, b) =>
          PRIORITY_RANK[a.outbound.study.priority] - PRIORITY_RANK[b.outbound.study.priority] ||
          a.queuedAt - b.queuedAt,
      );
  }

  #record(event: PriorityQueueEvent): void {
    this.events.push(event);
    this.#emitter.emit("event", event);
  }
}

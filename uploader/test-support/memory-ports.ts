/**
 * In-memory OutboundQueue and ReportInbox for tests: they record every call, and `waitFor` turns
 * "eventually the queue sees delivered()" into an awaitable with a deadline.
 */
import { EventEmitter } from "node:events";
import type { ReportMessage } from "../protocol/index.ts";
import type { OutboundQueue, OutboundStudy, ReportInbox } from "../types.ts";

export type QueueEvent =
  | { kind: "uploading"; uid: string }
  | { kind: "delivered"; uid: string; stored: string[] }
  | { kind: "failed"; uid: string; reason: string };

export class MemoryQueue implements OutboundQueue {
  readonly studies = new Map<string, OutboundStudy>();
  readonly events: QueueEvent[] = [];
  readonly #emitter = new EventEmitter();
  readonly #readyListeners: Array<() => void> = [];

  add(study: OutboundStudy): void {
    this.studies.set(study.study.studyInstanceUid, study);
    for (const listener of this.#readyListeners) listener();
  }

  async next(exclude?: ReadonlySet<string>): Promise<OutboundStudy | undefined> {
    for (const [uid, study] of this.studies) if (!exclude?.has(uid)) return study;
    return undefined;
  }

  async uploading(uid: string): Promise<void> {
    this.#record({ kind: "uploading", uid });
  }

  async delivered(uid: string, stored: string[]): Promise<void> {
    this.studies.delete(uid);
    this.#record({ kind: "delivered", uid, stored });
  }

  async failed(uid: string, reason: string): Promise<void> {
    this.#record({ kind: "failed", uid, reason });
  }

  async depth(): Promise<number> {
    return this.studies.size;
  }

  onReady(listener: () => void): void {
    this.#readyListeners.push(listener);
  }

  of(kind: QueueEvent["kind"]): QueueEvent[] {
    return this.events.filter((event) => event.kind === kind);
  }

  /** Resolve with the first recorded (past or future) event matching `predicate`. */
  waitFor(predicate: (event: QueueEvent) => boolean, timeoutMs = 10_000): Promise<QueueEvent> {
    return waitForEvent(this.#emitter, this.events, predicate, timeoutMs);
  }

  #record(event: QueueEvent): void {
    this.events.push(event);
    this.#emitter.emit("event", event);
  }
}

export class MemoryInbox implements ReportInbox {
  readonly reports = new Map<string, ReportMessage>();
  readonly calls: string[] = [];
  /** When set, accept() throws it (a full or read-only disk). */
  failWith: Error | undefined;
  readonly #emitter = new EventEmitter();

  async accept(report: ReportMessage): Promise<void> {
    this.calls.push(report.reportId);
    this.#emitter.emit("event", report.reportId);
    if (this.failWith) throw this.failWith;
    this.reports.set(report.reportId, report);
  }

  waitForCall(reportId: string, timeoutMs = 10_000): Promise<string> {
    return waitForEvent(this.#emitter, this.calls, (id) => id === reportId, timeoutMs);
  }
}

export function waitForEvent<T>(
  emitter: EventEmitter,
  past: readonly T[],
  predicate: (event: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const seen = past.find(predicate);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off("event", listener);
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    function listener(event: T): void {
      if (!predicate(event)) return;
      clearTimeout(timer);
      emitter.off("event", listener);
      resolve(event);
    }
    emitter.on("event", listener);
  });
}

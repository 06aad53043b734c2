/**
 * Study assembly at the box: instances arrive one by one (from DICOM, serial or files), are stored in
 * the spool, grouped by StudyInstanceUID, and a study becomes ready for upload once no instance has
 * arrived for the quiet period. Implements the drivers' `InstanceSink` and the uploader's
 * `OutboundQueue`, so neither of them learns about the gateway.
 */

import type { Logger } from "../../common/logger.ts";
import type { InstanceSink, ReceivedInstance, StoreResult } from "../../device-drivers/index.ts";
import type {
  OutboundPreview,
  OutboundQueue,
  OutboundStudy,
  PendingPreviews,
  QueueHead,
  QueueStats,
} from "../../uploader/index.ts";
import { PRIORITY_RANK, type Priority } from "../../uploader/protocol/index.ts";
import type { GatewayErrorCode } from "../errors.ts";
import {
  InvalidInstanceError,
  type PutOutcome,
  type Spool,
  type SpooledInstance,
  sha256OfFile,
} from "../spool/spool.ts";
import { studyDescriptor } from "./study-descriptor.ts";
import type { StudyIndex, StudyRecord } from "./study-index.ts";
import { initialState, type StudyState, transition } from "./study-states.ts";

export interface StudyServiceOptions {
  spool: Spool;
  index: StudyIndex;
  log: Logger;
  quietPeriodMs: number;
  defaultPriority: Priority;
  ecgPriority: Priority;
  /** Finds the registration an instance belongs to (gateway/registrations/registration-link.ts). */
  linkRegistration?: (attributes: ReceivedInstance["attributes"]) => string | undefined;
  /**
   * After a stored instance, the index is saved in the background at most this long later, one save
   * for every instance stored meanwhile (default 1000 ms). The index may lag the spool by that much:
   * the spool is the source of truth and `reconcile()` recounts from it after a crash.
   */
  indexSaveDelayMs?: number;
  now?: () => Date;
}

/** Errors that mean "try again later" rather than "this instance is bad". */
const RESOURCE_ERRORS = new Set(["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE", "EROFS", "EBUSY"]);

export class StudyService implements InstanceSink, OutboundQueue {
  readonly #o: StudyServiceOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #readyListeners: Array<() => void> = [];
  /** SHA-256 per file, keyed by path, size and receive time, so retries do not re-hash. */
  readonly #hashes = new Map<string, string>();
  /**
   * Each queued study's previews as last read from the spool, with the stamp of the content they were
   * read for: `pendingPreviews` is asked whenever a study becomes ready and must not re-read every
   * queued study's sidecars each time.
   */
  readonly #previewCache = new Map<string, { stamp: string; previews: OutboundPreview[] }>();
  /** The pending background save of the index (see `indexSaveDelayMs`). */
  #saveTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: StudyServiceOptions) {
    this.#o = options;
  }

  #now(): Date {
    return this.#o.now ? this.#o.now() : new Date();
  }

  stagingPath(): Promise<string> {
    return this.#o.spool.stagingPath();
  }

  async store(instance: ReceivedInstance): Promise<StoreResult> {
    const arrivedAt = this.#now();
    let outcome: PutOutcome;
    let size: number;
    let previousSize: number;
    try {
      ({ outcome, size, previousSize } = await this.#o.spool.put(instance, arrivedAt.toISOString()));
    } catch (error) {
      if (error instanceof InvalidInstanceError) {
        return {
          status: "refused",
          code: "INSTANCE_INVALID" satisfies GatewayErrorCode,
          reason: error.message,
          retryable: false,
        };
      }
      const code = (error as NodeJS.ErrnoException).code ?? "";
      this.#o.log.error(
        { err: error, sopInstanceUid: instance.attributes.sopInstanceUid },
        "spool write failed",
      );
      return {
        status: "refused",
        code: (RESOURCE_ERRORS.has(code)
          ? "SPOOL_OUT_OF_RESOURCES"
          : "SPOOL_WRITE_FAILED") satisfies GatewayErrorCode,
        reason: `spool write failed (${code || "unknown error"})`,
        retryable: true,
      };
    }
    const uid = instance.attributes.studyInstanceUid;
    let record = this.#o.index.get(uid);
    if (outcome === "duplicate" && record) return { status: "duplicate" };

    const stored: SpooledInstance = {
      attributes: instance.attributes,
      size,
      receivedAt: arrivedAt.toISOString(),
      source: instance.source,
      ...(instance.priority ? { priority: instance.priority } : {}),
    };
    if (!record) {
      record = this.#newRecord(stored, arrivedAt);
      this.#o.index.put(record);
    } else if (record.state !== "received" && record.state !== "stored") {
      // New or corrected content for a study already queued or sent: send it again.
      transition(record, "received", arrivedAt);
    }
    if (record.state === "received") transition(record, "stored", this.#now());
    if (outcome === "stored") record.instanceCount += 1;
    record.totalBytes += size - previousSize;
    this.#mergeAttributes(record, stored);
    record.registrationId ??= this.#o.linkRegistration?.(instance.attributes);
    record.lastInstanceAt = arrivedAt.toISOString();
    this.#scheduleReady(uid, this.#o.quietPeriodMs);
    this.#saveInBackground();
    this.#o.log.debug({ studyInstanceUid: uid, outcome }, "instance stored");
    return { status: outcome === "duplicate" ? "duplicate" : "stored" };
  }

  /**
   * Bring the index in line with the spool (source of truth) after a start, a crash or a lost index:
   * add studies it lacks, recount instances, re-open studies holding instances never delivered, put
   * interrupted uploads back in the queue, and queue or time the studies that were waiting.
   */
  async reconcile(): Promise<{ studies: number; rebuilt: number; requeued: number }> {
    const byStudy = new Map<string, SpooledInstance[]>();
    for (const instance of await this.#o.spool.scan()) {
      const list = byStudy.get(instance.attributes.studyInstanceUid) ?? [];
      list.push(instance);
      byStudy.set(instance.attributes.studyInstanceUid, list);
    }
    let rebuilt = 0;
    let requeued = 0;
    const now = this.#now();
    for (const [uid, instances] of byStudy) {
      instances.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
      let record = this.#o.index.get(uid);
      if (!record) {
        record = this.#newRecord(instances[0]!, new Date(instances[0]!.receivedAt));
        transition(record, "stored", now);
        this.#o.index.put(record);
        rebuilt += 1;
      }
      record.instanceCount = instances.length;
      record.totalBytes = instances.reduce((sum, i) => sum + i.size, 0);
      for (const instance of instances) this.#mergeAttributes(record, instance);
      // A rebuilt record finds its registration again (the registration still names its study).
      for (const instance of instances)
        record.registrationId ??= this.#o.linkRegistration?.(instance.attributes);
      record.lastInstanceAt = instances.at(-1)!.receivedAt;
      const delivered = new Set(record.deliveredSopInstanceUids);
      const undelivered = instances.some((i) => !delivered.has(i.attributes.sopInstanceUid));
      if (undelivered && (record.state === "delivered" || record.state === "reported")) {
        transition(record, "received", now);
      }
      if (record.state === "received") transition(record, "stored", now);
      if (record.state === "uploading") {
        transition(record, "queued", now);
        requeued += 1;
      }
    }
    for (const record of this.#o.index.all()) {
      if (record.state !== "stored") continue;
      const waited = now.getTime() - Date.parse(record.lastInstanceAt);
      this.#scheduleReady(record.studyInstanceUid, Math.max(0, this.#o.quietPeriodMs - waited));
    }
    await this.#o.index.save();
    return { studies: byStudy.size, rebuilt, requeued };
  }

  /** Attach a report to its study (the report inbox calls this once the report is durable). */
  async attachReport(studyInstanceUid: string, report: NonNullable<StudyRecord["report"]>): Promise<boolean> {
    const record = this.#o.index.get(studyInstanceUid);
    if (!record) return false;
    record.report = report;
    if (record.state === "delivered") transition(record, "reported", this.#now());
    await this.#o.index.save();
    return true;
  }

  list(): StudyRecord[] {
    return this.#o.index.all().sort((a, b) => b.firstInstanceAt.localeCompare(a.firstInstanceAt));
  }

  get(studyInstanceUid: string): StudyRecord | undefined {
    return this.#o.index.get(studyInstanceUid);
  }

  instances(studyInstanceUid: string): Promise<SpooledInstance[]> {
    return this.#o.spool.listStudy(studyInstanceUid);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    return this.#o.index.save();
  }

  // ── OutboundQueue ──────────────────────────────────────────────────────────

  /** The next queued study by priority then queue time, skipping those the sender is backing off. */
  async next(exclude?: ReadonlySet<string>): Promise<OutboundStudy | undefined> {
    for (const record of this.#ready(exclude)) {
      const instances = await this.#o.spool.listStudy(record.studyInstanceUid);
      if (instances.length === 0) continue;
      const previews = this.#previewsOf(instances);
      return {
        study: studyDescriptor(record),
        instances: await Promise.all(instances.map((i) => this.#outboundInstance(i))),
        ...(previews.length > 0 ? { previews } : {}),
      };
    }
    return undefined;
  }

  async uploading(studyInstanceUid: string): Promise<void> {
    const record = this.#o.index.get(studyInstanceUid);
    if (record?.state !== "queued") return;
    transition(record, "uploading", this.#now());
    record.uploadAttempts += 1;
    await this.#o.index.save();
  }

  async delivered(studyInstanceUid: string, storedSopInstanceUids: string[]): Promise<void> {
    const record = this.#o.index.get(studyInstanceUid);
    if (!record) return;
    record.deliveredSopInstanceUids = [
      ...new Set([...record.deliveredSopInstanceUids, ...storedSopInstanceUids]),
    ];
    record.lastError = null;
    // If an instance arrived during the upload the study was re-opened and stays on its way again.
    if (record.state === "uploading") {
      transition(record, "delivered", this.#now());
      if (record.report) transition(record, "reported", this.#now());
    }
    await this.#o.index.save();
    this.#o.log.info({ studyInstanceUid, instances: storedSopInstanceUids.length }, "study delivered");
  }

  async failed(studyInstanceUid: string, reason: string): Promise<void> {
    const record = this.#o.index.get(studyInstanceUid);
    if (!record) return;
    // The sender owns the retry back-off (jittered, per study); the index keeps the last reason
    // for the technician page.
    record.lastError = reason;
    if (record.state === "uploading") transition(record, "queued", this.#now());
    await this.#o.index.save();
  }

  async depth(): Promise<number> {
    return this.#waiting().length;
  }

  /** The head of the ready queue from the index alone (no spool read): what `next` would try first. */
  async peek(exclude?: ReadonlySet<string>): Promise<QueueHead | undefined> {
    const head = this.#ready(exclude)[0];
    return head && { studyInstanceUid: head.studyInstanceUid, priority: head.priority };
  }

  /**
   * Back to the queue after an attempt abandoned for a study of higher priority: no error, and the
   * queue time it had, so it is the next of its priority again rather than the last.
   */
  async preempted(studyInstanceUid: string): Promise<void> {
    const record = this.#o.index.get(studyInstanceUid);
    if (record?.state !== "uploading") return;
    const queuedAt = record.transitions.queued;
    transition(record, "queued", this.#now());
    if (queuedAt) record.transitions.queued = queuedAt;
    await this.#o.index.save();
  }

  /** The previews of every ready study, in sending order; studies without previews are left out. */
  async pendingPreviews(exclude?: ReadonlySet<string>): Promise<PendingPreviews[]> {
    const ready = this.#ready(exclude);
    const live = new Set(ready.map((r) => r.studyInstanceUid));
    for (const uid of this.#previewCache.keys()) if (!live.has(uid)) this.#previewCache.delete(uid);
    const result: PendingPreviews[] = [];
    for (const record of ready) {
      // The spool changes a queued study only through store(), which moves its record and these
      // figures: the same stamp means the same previews.
      const stamp = `${record.instanceCount}|${record.totalBytes}|${record.lastInstanceAt}`;
      let cached = this.#previewCache.get(record.studyInstanceUid);
      if (cached?.stamp !== stamp) {
        cached = {
          stamp,
          previews: this.#previewsOf(await this.#o.spool.listStudy(record.studyInstanceUid)),
        };
        this.#previewCache.set(record.studyInstanceUid, cached);
      }
      if (cached.previews.length === 0) continue;
      result.push({
        studyInstanceUid: record.studyInstanceUid,
        priority: record.priority,
        previews: cached.previews,
      });
    }
    return result;
  }

  /** The figures of the box's status message, from the index alone. */
  async stats(): Promise<QueueStats> {
    const waiting = this.#waiting();
    let bytes = 0;
    let stat = 0;
    let oldest: string | undefined;
    for (const record of waiting) {
      bytes += record.totalBytes;
      if (record.priority === "stat") stat += 1;
      if (oldest === undefined || record.firstInstanceAt < oldest) oldest = record.firstInstanceAt;
    }
    return { depth: waiting.length, bytes, stat, ...(oldest ? { oldestQueuedAt: oldest } : {}) };
  }

  onReady(listener: () => void): void {
    this.#readyListeners.push(listener);
  }

  // ── internals ─────────────────────────────────────────────────────────────

  /** Studies waiting to be sent or being sent (what the status message counts). */
  #waiting(): StudyRecord[] {
    return this.#o.index.all().filter((r) => r.state === "queued" || r.state === "uploading");
  }

  /** Queued studies not in `exclude`, in sending order: priority, then the time they were queued. */
  #ready(exclude?: ReadonlySet<string>): StudyRecord[] {
    return this.#o.index
      .all()
      .filter((r) => r.state === "queued" && !exclude?.has(r.studyInstanceUid))
      .sort(
        (a, b) =>
          PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
          (a.transitions.queued ?? "").localeCompare(b.transitions.queued ?? ""),
      );
  }

  /** A study's previews, in the order their instances arrived. */
  #previewsOf(instances: SpooledInstance[]): OutboundPreview[] {
    return instances
      .filter((i) => i.preview)
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
      .map((i) => this.#outboundPreview(i));
  }

  #newRecord(first: SpooledInstance, at: Date): StudyRecord {
    const a = first.attributes;
    return {
      studyInstanceUid: a.studyInstanceUid,
      ...initialState(at),
      // A device profile's priority first (an ECG cart set to "stat"), else the modality's default.
      priority: first.priority ?? (a.modality === "ECG" ? this.#o.ecgPriority : this.#o.defaultPriority),
      modalities: [],
      patient: {
        id: a.patientId,
        name: a.patientName,
        sex: a.patientSex,
        birthDate: a.patientBirthDate,
        age: a.patientAge,
      },
      studyDate: a.studyDate,
      studyTime: a.studyTime,
      studyDescription: a.studyDescription,
      accessionNumber: a.accessionNumber,
      instanceCount: 0,
      totalBytes: 0,
      firstInstanceAt: at.toISOString(),
      lastInstanceAt: at.toISOString(),
      deliveredSopInstanceUids: [],
      uploadAttempts: 0,
      lastError: null,
      report: null,
    };
  }

  #mergeAttributes(record: StudyRecord, instance: SpooledInstance): void {
    const modality = instance.attributes.modality;
    if (modality && !record.modalities.includes(modality)) record.modalities.push(modality);
  }

  async #outboundInstance(instance: SpooledInstance) {
    const a = instance.attributes;
    const path = this.#o.spool.instancePath(a.studyInstanceUid, a.sopInstanceUid);
    const key = `${path}|${instance.size}|${instance.receivedAt}`;
    let sha256 = this.#hashes.get(key);
    if (!sha256) {
      sha256 = await sha256OfFile(path);
      this.#hashes.set(key, sha256);
    }
    return {
      sopInstanceUid: a.sopInstanceUid,
      sopClassUid: a.sopClassUid,
      transferSyntaxUid: a.transferSyntaxUid,
      seriesInstanceUid: a.seriesInstanceUid,
      size: instance.size,
      sha256,
      path,
    };
  }

  /** An instance's preview (an ECG's sheet) for the county, sent ahead of the study; its id is the SOP Instance UID. */
  #outboundPreview(instance: SpooledInstance): OutboundPreview {
    const a = instance.attributes;
    const preview = instance.preview!;
    return {
      previewId: a.sopInstanceUid,
      mediaType: preview.mediaType,
      path: this.#o.spool.previewPath(a.studyInstanceUid, a.sopInstanceUid),
      size: preview.size,
      sha256: preview.sha256,
      ...(preview.width ? { width: preview.width } : {}),
      ...(preview.height ? { height: preview.height } : {}),
      description: a.modality === "ECG" ? "12-lead ECG sheet" : "preview",
    };
  }

  #scheduleReady(uid: string, delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(uid));
    const timer = setTimeout(() => {
      this.#timers.delete(uid);
      this.#markReady(uid).catch((error: unknown) =>
        this.#o.log.error({ err: error, studyInstanceUid: uid }, "could not queue study"),
      );
    }, delayMs);
    timer.unref();
    this.#timers.set(uid, timer);
  }

  async #markReady(uid: string): Promise<void> {
    const record = this.#o.index.get(uid);
    if (!record || record.state !== ("stored" satisfies StudyState)) return;
    transition(record, "queued", this.#now());
    await this.#o.index.save();
    this.#o.log.info({ studyInstanceUid: uid, instances: record.instanceCount }, "study queued for upload");
    this.#notifyReady();
  }

  #notifyReady(): void {
    for (const listener of this.#readyListeners) listener();
  }

  /**
   * The whole index is rewritten and fsynced on every save: coalesce the saves after stored instances
   * into one per `indexSaveDelayMs`, so a burst of small instances costs one index write, not one each.
   */
  #saveInBackground(): void {
    if (this.#saveTimer || this.#stopped) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#o.index
        .save()
        .catch((error: unknown) => this.#o.log.error({ err: error }, "study index write failed"));
    }, this.#o.indexSaveDelayMs ?? 1000);
    this.#saveTimer.unref();
  }
}

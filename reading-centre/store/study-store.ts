/**
 * The study index: every study record in memory for the worklist, each one also in its own durable
 * JSON file (`studies/<siteId>/<studyInstanceUid>.json`, written through DurableJsonFile so a save
 * resolves only once it is fsynced).
 *
 * One file per study keeps each commit's write proportional to that study, not to the county's
 * whole history. Callers change a record in place and then `save` it; lookups by SOP Instance UID,
 * by report id and by content hash are kept in step on every save.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DurableJsonFile } from "../../common/durable-json-store.ts";
import type { Logger } from "../../common/logger.ts";
import { ID_PATTERN } from "../../uploader/protocol/index.ts";
import { type InstanceRecord, type StudyKey, type StudyRecord, studyKeyString } from "./types.ts";

const UID_FILE = /^[0-9]+(\.[0-9]+)*\.json$/;

export interface InstanceLocation {
  study: StudyRecord;
  instance: InstanceRecord;
}

export class StudyStore {
  readonly #dir: string;
  readonly #studies = new Map<string, StudyRecord>();
  readonly #files = new Map<string, DurableJsonFile<StudyRecord>>();
  /** What each study contributed to the lookups at its last save, so a save can undo it. */
  readonly #indexed = new Map<string, { sops: string[]; shas: string[]; reportId: string | null }>();
  readonly #bySop = new Map<string, Set<string>>();
  readonly #shaRefs = new Map<string, number>();
  readonly #byReportId = new Map<string, string>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static async open(dir: string, log: Logger): Promise<StudyStore> {
    const store = new StudyStore(dir);
    let sites: string[] = [];
    try {
      sites = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    for (const siteId of sites.filter((name) => ID_PATTERN.test(name))) {
      for (const name of (await readdir(join(dir, siteId))).filter((n) => UID_FILE.test(n))) {
        const file = new DurableJsonFile<StudyRecord>(join(dir, siteId, name));
        try {
          const study = await file.read();
          if (!study) continue;
          const key = studyKeyString(study);
          store.#studies.set(key, study);
          store.#files.set(key, file);
          store.#reindex(key, study);
        } catch (error) {
          // One damaged record must not keep the county's whole worklist down; it is named for repair.
          log.error(
            { siteId, file: name, reason: (error as Error).message },
            "study record unreadable, skipped",
          );
        }
      }
    }
    log.info({ studies: store.#studies.size }, "study index loaded");
    return store;
  }

  get(key: StudyKey): StudyRecord | undefined {
    return this.#studies.get(studyKeyString(key));
  }

  /** Every site's study with this UID (normally one). */
  findByUid(studyInstanceUid: string): StudyRecord[] {
    return this.all().filter((study) => study.studyInstanceUid === studyInstanceUid);
  }

  all(): StudyRecord[] {
    return [...this.#studies.values()];
  }

  findInstances(sopInstanceUid: string): InstanceLocation[] {
    const found: InstanceLocation[] = [];
    for (const key of this.#bySop.get(sopInstanceUid) ?? []) {
      const study = this.#studies.get(key)!;
      const instance = study.instances.find((i) => i.sopInstanceUid === sopInstanceUid);
      if (instance) found.push({ study, instance });
    }
    return found;
  }

  findByReportId(reportId: string): StudyRecord | undefined {
    const key = this.#byReportId.get(reportId);
    return key === undefined ? undefined : this.#studies.get(key);
  }

  /** How many stored instances (across all studies) point at this content. */
  shaReferences(sha256: string): number {
    return this.#shaRefs.get(sha256) ?? 0;
  }

  /** Persist a new or changed record durably; resolves once it is on disk. */
  async save(study: StudyRecord): Promise<void> {
    const key = studyKeyString(study);
    let file = this.#files.get(key);
    if (!file) {
      file = new DurableJsonFile<StudyRecord>(
        join(this.#dir, study.siteId, `${study.studyInstanceUid}.json`),
      );
      this.#files.set(key, file);
    }
    this.#studies.set(key, study);
    this.#reindex(key, study);
    await file.write(study);
  }

  #reindex(key: string, study: StudyRecord): void {
    const previous = this.#indexed.get(key);
    if (previous) {
      for (const sop of previous.sops) {
        const keys = this.#bySop.get(sop);
        keys?.delete(key);
        if (keys?.size === 0) this.#bySop.delete(sop);
      }
      for (const sha of previous.shas) {
        const count = (this.#shaRefs.get(sha) ?? 1) - 1;
        if (count <= 0) this.#shaRefs.delete(sha);
        else this.#shaRefs.set(sha, count);
      }
      if (previous.reportId !== null) this.#byReportId.delete(previous.reportId);
    }
    const sops = study.instances.map((i) => i.sopInstanceUid);
    const shas = study.instances.map((i) => i.sha256);
    for (const sop of sops) {
      const keys = this.#bySop.get(sop) ?? new Set<string>();
      keys.add(key);
      this.#bySop.set(sop, keys);
    }
    for (const sha of shas) this.#shaRefs.set(sha, (this.#shaRefs.get(sha) ?? 0) + 1);
    const reportId = study.report?.reportId ?? null;
    if (reportId !== null) this.#byReportId.set(reportId, key);
    this.#indexed.set(key, { sops, shas, reportId });
  }
}

/**
 * The study index: one record per study with its state, time stamps, counts and report, kept in
 * lowdb over a durable adapter (every write fsynced before it resolves). It is a cache of the spool
 * plus the facts the spool cannot hold (states, delivery, reports); `StudyService.reconcile()`
 * rebuilds it from the spool and the report inbox when it is missing or behind.
 */
import { join } from "node:path";
import { Low } from "lowdb";
import { DurableJsonFile } from "../../common/durable-json-store.ts";
import type { ReportMessage, StudyDescriptor } from "../../uploader/protocol/index.ts";
import type { Stateful } from "./study-states.ts";

/** A report as the box keeps it: the protocol's fields, plus when the box stored it. */
export type StudyReport = Pick<
  ReportMessage,
  "reportId" | "findings" | "impression" | "critical" | "reportedBy" | "reportedAt"
> & { receivedAt: string };

/** The box's record of a study: what the protocol describes, plus its life cycle and counts. */
export interface StudyRecord extends Stateful, Omit<StudyDescriptor, "receivedAt"> {
  instanceCount: number;
  totalBytes: number;
  firstInstanceAt: string;
  lastInstanceAt: string;
  /** SOP Instance UIDs the reading centre acknowledged holding. */
  deliveredSopInstanceUids: string[];
  uploadAttempts: number;
  lastError: string | null;
  report: StudyReport | null;
  /** The registration (POST /api/registrations) this study was scheduled by, once linked. */
  registrationId?: string;
}

interface IndexData {
  version: 1;
  studies: Record<string, StudyRecord>;
}

export class StudyIndex {
  readonly #db: Low<IndexData>;

  constructor(dataDir: string) {
    this.#db = new Low<IndexData>(new DurableJsonFile<IndexData>(join(dataDir, "index", "studies.json")), {
      version: 1,
      studies: {},
    });
  }

  async open(): Promise<void> {
    await this.#db.read();
  }

  get(studyInstanceUid: string): StudyRecord | undefined {
    return this.#db.data.studies[studyInstanceUid];
  }

  all(): StudyRecord[] {
    return Object.values(this.#db.data.studies);
  }

  /** Add or replace a record in memory; call `save()` to make it durable. */
  put(record: StudyRecord): void {
    this.#db.data.studies[record.studyInstanceUid] = record;
  }

  /** Make the current state durable; resolves once fsynced. */
  save(): Promise<void> {
    return this.#db.write();
  }
}

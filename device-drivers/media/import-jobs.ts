/**
 * Import jobs as the API shows them: one per inserted stick, and one per batch of new files in a
 * watched folder. Only file names (relative to the medium) and counts; never patient data.
 */
import { randomUUID } from "node:crypto";

export type ImportSourceKind = "folder" | "usb";
export type ImportJobState = "scanning" | "importing" | "done" | "failed";

export interface ImportJob {
  id: string;
  source: ImportSourceKind;
  /** The watched folder or the stick's mount point. */
  path: string;
  state: ImportJobState;
  /** DICOM and ECG files found (instances to import, including those that then failed). */
  found: number;
  imported: number;
  /** Already imported before (from this or another medium), or already in the spool. */
  duplicates: number;
  /** Other files (neither DICOM nor an ECG export), passed over quietly. */
  skipped: number;
  failed: Array<{ file: string; reason: string }>;
  /** Why the job as a whole stopped (medium removed, unreadable, gateway stopping). */
  error?: string;
  startedAt: string;
  finishedAt: string | null;
}

/** Enough failures to act on; a stick of ten thousand broken files does not grow the API unbounded. */
const MAX_FAILURES_LISTED = 500;

export class ImportJobs {
  readonly #jobs: ImportJob[] = [];
  readonly #keep: number;

  constructor(keep = 100) {
    this.#keep = keep;
  }

  start(source: ImportSourceKind, path: string, now = new Date()): ImportJob {
    const job: ImportJob = {
      id: randomUUID(),
      source,
      path,
      state: "scanning",
      found: 0,
      imported: 0,
      duplicates: 0,
      skipped: 0,
      failed: [],
      startedAt: now.toISOString(),
      finishedAt: null,
    };
    this.#jobs.unshift(job);
    this.#jobs.splice(this.#keep);
    return job;
  }

  /** Newest first; copies, so callers cannot change a running job. */
  list(): ImportJob[] {
    return this.#jobs.map((job) => ({ ...job, failed: [...job.failed] }));
  }

  get(id: string): ImportJob | undefined {
    return this.list().find((job) => job.id === id);
  }
}

export function addFailure(job: ImportJob, file: string, reason: string): void {
  if (job.failed.length < MAX_FAILURES_LISTED) job.failed.push({ file, reason });
}

export function finish(job: ImportJob, error?: string, now = new Date()): void {
  job.state = error ? "failed" : "done";
  if (error) job.error = error;
  job.finishedAt = now.toISOString();
}

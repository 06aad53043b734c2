/**
 * Folder and USB import: polls the watched folders and the mount root of removable media, and
 * imports the DICOM files it finds, each instance once. Polling, not fs.watch: inotify says nothing
 * about a stick being mounted, and misses changes on vfat/exfat media and network shares.
 *
 * - A stick is imported once per insertion: a job starts when a new mount point appears below the
 *   mount root, reads the whole medium, and ends. Removing and re-inserting it starts a new job,
 *   in which everything already imported counts as a duplicate (the ledger knows the bytes).
 * - A watched folder is scanned on every pass; a file is imported once it is stable (same size and
 *   modification time for `stableMs`), so a copy still in progress is not read half-written.
 */
import type { Logger } from "../../common/logger.ts";
import type { EcgStore } from "../ecg/import/index.ts";
import type { InstanceSink } from "../types.ts";
import { type Enumeration, enumerateFiles, type FoundFile } from "./enumerate.ts";
import { type FileKind, probeFile } from "./file-kind.ts";
import { type FileOutcome, importFile } from "./import-file.ts";
import { addFailure, finish, type ImportJob, ImportJobs, type ImportSourceKind } from "./import-jobs.ts";
import { ImportLedger } from "./import-ledger.ts";
import { mountPointsBelow } from "./mount-points.ts";

export interface MediaImporterOptions {
  sink: InstanceSink;
  log: Logger;
  /** Where the importer keeps its ledger of imported files (on the box's data disk). */
  stateDir: string;
  /** Folders to watch (e.g. a share the ultrasound exports to). */
  folders: readonly string[];
  /** Mount root of removable media ("" to import no sticks). */
  usbMountRoot: string;
  /** Time between passes. */
  scanIntervalMs: number;
  /** How long a folder file must stay unchanged before it is read; default max(2 s, interval). */
  stableMs?: number;
  /** Wait this long before retrying a folder file whose import failed for a passing reason. */
  retryMs?: number;
  /** The mount points below a root; default from /proc/self/mountinfo (tests pass their own). */
  listMounts?: (root: string) => Promise<string[]>;
  /** ECG exports (SCP-ECG, aECG, Philips, GE MUSE XML) become DICOM ECGs through this; absent = passed over. */
  ecg?: EcgStore;
}

export interface MediaImporter {
  start(): Promise<void>;
  /** Stops polling and waits for the file being imported; a running job ends as failed. */
  stop(): Promise<void>;
  /** One pass now, after any pass already running. */
  scanNow(): Promise<void>;
  /** Newest first. */
  jobs(): ImportJob[];
  job(id: string): ImportJob | undefined;
}

interface Observation {
  size: number;
  mtimeMs: number;
  since: number;
}

interface Candidate {
  file: FoundFile;
  kind: FileKind;
}

export function createMediaImporter(options: MediaImporterOptions): MediaImporter {
  return new Importer(options);
}

class Importer implements MediaImporter {
  readonly #o: MediaImporterOptions;
  readonly #log: Logger;
  readonly #ledger: ImportLedger;
  readonly #jobs = new ImportJobs();
  readonly #stableMs: number;
  readonly #retryMs: number;
  readonly #listMounts: (root: string) => Promise<string[]>;
  /** Folder files seen but not yet stable or not yet imported, by path. */
  readonly #observed = new Map<string, Observation>();
  /** Folder files to leave alone until then (a passing failure), by path. */
  readonly #retryAt = new Map<string, number>();
  readonly #mounted = new Set<string>();
  readonly #unreadableFolders = new Set<string>();
  #passes: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: MediaImporterOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#ledger = new ImportLedger(options.stateDir);
    this.#stableMs = options.stableMs ?? Math.max(2000, options.scanIntervalMs);
    this.#retryMs = options.retryMs ?? 60_000;
    this.#listMounts = options.listMounts ?? ((root) => mountPointsBelow(root));
  }

  async start(): Promise<void> {
    await this.#ledger.open();
    this.#stopping = false;
    this.#log.info(
      {
        folders: this.#o.folders.length,
        usbMountRoot: this.#o.usbMountRoot,
        intervalMs: this.#o.scanIntervalMs,
      },
      "import watching",
    );
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#passes;
  }

  scanNow(): Promise<void> {
    const pass = this.#passes.then(() => this.#pass());
    this.#passes = pass;
    return pass;
  }

  jobs(): ImportJob[] {
    return this.#jobs.list();
  }

  job(id: string): ImportJob | undefined {
    return this.#jobs.get(id);
  }

  #schedule(delayMs: number): void {
    if (this.#stopping) return;
    this.#timer = setTimeout(() => {
      // scanNow never rejects (#pass catches), so the next pass is always scheduled.
      void this.scanNow().finally(() => this.#schedule(this.#o.scanIntervalMs));
    }, delayMs);
  }

  /** Never rejects: a pass that fails is logged and the next one tries again. */
  async #pass(): Promise<void> {
    if (this.#stopping) return;
    try {
      for (const folder of this.#o.folders) {
        if (this.#stopping) return;
        await this.#scanFolder(folder);
      }
      if (this.#o.usbMountRoot && !this.#stopping) await this.#scanMounts(this.#o.usbMountRoot);
    } catch (error) {
      this.#log.error({ event: "import-pass-failed", error: (error as Error).message }, "import pass failed");
    }
  }

  async #scanFolder(folder: string): Promise<void> {
    let listing: Enumeration;
    try {
      listing = await enumerateFiles(folder);
      this.#unreadableFolders.delete(folder);
    } catch (error) {
      if (!this.#unreadableFolders.has(folder)) {
        this.#unreadableFolders.add(folder);
        this.#log.warn(
          { event: "import-folder-unreadable", folder, code: codeOf(error) },
          "cannot read folder",
        );
      }
      return;
    }
    const now = Date.now();
    const ready: FoundFile[] = [];
    for (const file of listing.files) {
      if (this.#ledger.isSettled(file.path, file.size, file.mtimeMs)) {
        this.#observed.delete(file.path);
        continue;
      }
      if ((this.#retryAt.get(file.path) ?? 0) > now) continue;
      const seen = this.#observed.get(file.path);
      if (!seen || seen.size !== file.size || seen.mtimeMs !== file.mtimeMs) {
        this.#observed.set(file.path, { size: file.size, mtimeMs: file.mtimeMs, since: now });
      } else if (now - seen.since >= this.#stableMs) {
        ready.push(file);
      }
    }
    this.#forgetVanished(folder, listing.files);
    if (ready.length === 0) return;
    const candidates = await this.#probe(ready);
    const importable = candidates.filter(({ kind }) => isImportable(kind));
    for (const { file } of candidates.filter(({ kind }) => !isImportable(kind))) {
      await this.#settle(file);
    }
    if (importable.length === 0) return;
    const job = this.#startJob("folder", folder);
    job.found = importable.length;
    job.skipped = candidates.length - importable.length;
    const stopped = await this.#importAll(job, importable, true);
    this.#finish(job, stopped ? "gateway stopped before the import finished" : undefined);
  }

  /** Files deleted before they were imported leave no observation behind. */
  #forgetVanished(folder: string, files: FoundFile[]): void {
    const listed = new Set(files.map((file) => file.path));
    const prefix = folder.endsWith("/") ? folder : `${folder}/`;
    for (const map of [this.#observed, this.#retryAt]) {
      for (const path of map.keys()) if (path.startsWith(prefix) && !listed.has(path)) map.delete(path);
    }
  }

  async #scanMounts(root: string): Promise<void> {
    const mounts = await this.#listMounts(root);
    for (const known of this.#mounted) {
      if (!mounts.includes(known)) {
        this.#mounted.delete(known);
        this.#log.info({ event: "import-medium-removed", mountPoint: known }, "medium removed");
      }
    }
    for (const mountPoint of mounts) {
      if (this.#stopping) return;
      if (this.#mounted.has(mountPoint)) continue;
      this.#mounted.add(mountPoint);
      await this.#importMedium(mountPoint, root);
    }
  }

  async #importMedium(mountPoint: string, root: string): Promise<void> {
    const job = this.#startJob("usb", mountPoint);
    let listing: Enumeration;
    try {
      listing = await enumerateFiles(mountPoint);
    } catch (error) {
      this.#finish(job, `cannot read the medium (${codeOf(error)})`);
      return;
    }
    if (listing.unreadableFileSets.length > 0) {
      this.#log.warn(
        { event: "import-dicomdir-unreadable", jobId: job.id, count: listing.unreadableFileSets.length },
        "DICOMDIR unreadable, folders scanned instead",
      );
    }
    for (const problem of listing.problems) addFailure(job, problem.file, problem.reason);
    const candidates = await this.#probe(listing.files);
    const importable = candidates.filter(({ kind }) => isImportable(kind));
    job.found = importable.length + listing.problems.length;
    job.skipped = candidates.length - importable.length;
    const stopped = await this.#importAll(job, importable, false);
    if (stopped) {
      this.#mounted.delete(mountPoint); // so the next start reads it again (duplicates are known)
      this.#finish(job, "gateway stopped before the import finished");
    } else if (!(await this.#listMounts(root)).includes(mountPoint)) {
      this.#finish(job, "medium removed before the import finished");
    } else {
      this.#finish(job);
    }
  }

  /** Returns true when it stopped early because the importer is stopping. */
  async #importAll(job: ImportJob, candidates: Candidate[], folder: boolean): Promise<boolean> {
    job.state = "importing";
    const deps = {
      sink: this.#o.sink,
      ledger: this.#ledger,
      log: this.#log,
      ...(this.#o.ecg ? { ecg: this.#o.ecg } : {}),
    };
    for (const { file, kind } of candidates) {
      if (this.#stopping) return true;
      const outcome = await importFile(file.path, kind, deps);
      count(job, file, outcome);
      if (!folder) continue;
      this.#observed.delete(file.path);
      if (outcome.outcome === "failed" && !outcome.final) {
        this.#retryAt.set(file.path, Date.now() + this.#retryMs);
      } else {
        this.#retryAt.delete(file.path);
        await this.#settle(file);
      }
    }
    return false;
  }

  async #probe(files: FoundFile[]): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    for (const file of files) {
      try {
        candidates.push({ file, kind: await probeFile(file.path) });
      } catch (error) {
        candidates.push({ file, kind: { kind: "unreadable", reason: `cannot read (${codeOf(error)})` } });
      }
    }
    return candidates;
  }

  async #settle(file: FoundFile): Promise<void> {
    this.#observed.delete(file.path);
    await this.#ledger.recordSettled(file.path, file.size, file.mtimeMs);
  }

  #startJob(source: ImportSourceKind, path: string): ImportJob {
    const job = this.#jobs.start(source, path);
    this.#log.info({ event: "import-started", jobId: job.id, source, path }, "import started");
    return job;
  }

  #finish(job: ImportJob, error?: string): void {
    finish(job, error);
    this.#log.info(
      {
        event: "import-finished",
        jobId: job.id,
        state: job.state,
        found: job.found,
        imported: job.imported,
        duplicates: job.duplicates,
        failed: job.failed.length,
        skipped: job.skipped,
        error,
      },
      "import finished",
    );
  }
}

/** A file the importer takes: a DICOM instance (or what claims to be one), or an ECG export it can convert. */
function isImportable(kind: FileKind): boolean {
  return kind.kind !== "other" && kind.kind !== "dicomdir";
}

function count(job: ImportJob, file: FoundFile, outcome: FileOutcome): void {
  if (outcome.outcome === "imported") job.imported += 1;
  else if (outcome.outcome === "duplicate") job.duplicates += 1;
  else if (outcome.outcome === "failed") addFailure(job, file.relative, outcome.reason);
  else {
    // Found to be a DICOMDIR only once read (another name): not an instance after all.
    job.found -= 1;
    job.skipped += 1;
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "error";
}

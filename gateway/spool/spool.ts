/**
 * The spool: durable instance files, the gateway's source of truth.
 *
 * Layout under `<dataDir>/spool`:
 *   studies/<StudyInstanceUID>/<SOPInstanceUID>.dcm    the Part 10 file exactly as received
 *   studies/<StudyInstanceUID>/<SOPInstanceUID>.json   its sidecar (decoded attributes, size, time)
 *   staging/                                            files being received; emptied at start
 * With a `DiskReserve`, new instances are refused (retryable, like a full disk) while free space is
 * below the reserve: `stagingPath()` throws before a driver writes a byte, and `put()` of in-memory
 * bytes checks too. A file already staged is always accepted: its bytes are on disk already.
 * The study index can always be rebuilt from `studies/` (see `scan()`). An instance is in the spool
 * once its `.dcm` entry is durable; the sidecar is made durable first, so every `.dcm` has one.
 */
import { createHash, randomBytes } from "node:crypto";
import fsCallbacks, { createReadStream, type Stats } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { fsyncDirectory, temporaryPathBeside } from "../../common/durable-file.ts";
import type { InstanceAttributes, InstanceSource, ReceivedInstance } from "../../device-drivers/index.ts";
import { BelowReserveError, type DiskReserve } from "./disk-reserve.ts";

/** UIDs become path components: PS3.5 9.1 limits them to digits and dots, at most 64 characters. */
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

export interface SpooledInstance {
  attributes: InstanceAttributes;
  size: number;
  receivedAt: string;
  source: InstanceSource;
  /** The picture the driver rendered (an ECG's sheet), in `previewPath()`; absent when none. */
  preview?: SpooledPreview;
  /** The priority the device asked for (ReceivedInstance.priority), so a rebuilt index keeps it. */
  priority?: "stat" | "urgent" | "routine";
}

export interface SpooledPreview {
  mediaType: "image/png";
  size: number;
  sha256: string;
  width?: number;
  height?: number;
}

export type PutOutcome = "stored" | "duplicate" | "replaced";

export interface PutResult {
  outcome: PutOutcome;
  /** Bytes of the instance now in the spool. */
  size: number;
  /** Bytes of the version it replaced (0 when new). */
  previousSize: number;
}

export class InvalidInstanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidInstanceError";
  }
}

export interface SpoolOptions {
  /** Refuse new instances while the spool's disk is below its reserve; none by default. */
  reserve?: DiskReserve | undefined;
}

/** Study directories whose descriptor stays open between instances (concurrent studies are few). */
const OPEN_STUDY_DIRS = 8;

const openDirectory = promisify(fsCallbacks.open) as (path: string, flags: string) => Promise<number>;
const fsyncDescriptor = promisify(fsCallbacks.fsync);
const closeDescriptor = promisify(fsCallbacks.close);

/** Write errors that mean the disk is full: the reserve's cached free space is then stale. */
const OUT_OF_SPACE = new Set(["ENOSPC", "EDQUOT"]);

export class Spool {
  readonly root: string;
  readonly reserve: DiskReserve | undefined;
  readonly #studiesDir: string;
  readonly #stagingDir: string;
  /** Per-SOP-instance serialisation: two associations resending one instance must not interleave. */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Study directories known to exist (and be durable). */
  readonly #studyDirs = new Set<string>();
  /** Open descriptors of recently written study directories, least recently used first. */
  readonly #dirDescriptors = new Map<string, Promise<number>>();

  constructor(root: string, options: SpoolOptions = {}) {
    this.root = root;
    this.reserve = options.reserve;
    this.#studiesDir = join(root, "studies");
    this.#stagingDir = join(root, "staging");
  }

  /** Create the directories and drop staging files left by a crash (never acknowledged to a device). */
  async open(): Promise<{ discardedStagingFiles: number }> {
    await mkdir(this.#studiesDir, { recursive: true });
    await mkdir(this.#stagingDir, { recursive: true });
    const leftovers = await readdir(this.#stagingDir);
    await Promise.all(
      leftovers.map((name) => rm(join(this.#stagingDir, name), { force: true, recursive: true })),
    );
    return { discardedStagingFiles: leftovers.length };
  }

  /** A fresh staging path; throws `BelowReserveError` (code ENOSPC) while below the reserve. */
  async stagingPath(): Promise<string> {
    await this.reserve?.check();
    return join(this.#stagingDir, `${Date.now()}-${randomBytes(8).toString("hex")}.part`);
  }

  /** Where an instance's preview lives, beside it (`<SOPInstanceUID>.preview.png`). */
  previewPath(studyInstanceUid: string, sopInstanceUid: string): string {
    return join(this.#studiesDir, studyInstanceUid, `${sopInstanceUid}.preview.png`);
  }

  instancePath(studyInstanceUid: string, sopInstanceUid: string): string {
    return join(this.#studiesDir, studyInstanceUid, `${sopInstanceUid}.dcm`);
  }

  /**
   * Durably store one instance. Resolves after the file and its directory entry are fsynced.
   * A resend with identical bytes is a `duplicate` (nothing changes); with different bytes it
   * `replaced` the earlier version (the modality corrected it).
   */
  put(instance: ReceivedInstance, receivedAt: string): Promise<PutResult> {
    const { studyInstanceUid, sopInstanceUid } = instance.attributes;
    const invalid = !isValidUid(studyInstanceUid)
      ? "StudyInstanceUID is missing or not a valid UID"
      : !isValidUid(sopInstanceUid)
        ? "SOPInstanceUID is missing or not a valid UID"
        : undefined;
    if (invalid) {
      // A handle passed with the instance is ours to close, whatever the outcome.
      if (instance.part10.kind === "file") void instance.part10.handle?.close().catch(() => undefined);
      throw new InvalidInstanceError(invalid);
    }
    const previous = this.#locks.get(sopInstanceUid) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => this.#put(instance, receivedAt))
      .then(
        (result) => {
          if (result.outcome !== "duplicate") this.reserve?.consumed(result.size - result.previousSize);
          return result;
        },
        (error: unknown) => {
          const code = (error as NodeJS.ErrnoException).code ?? "";
          if (OUT_OF_SPACE.has(code) && !(error instanceof BelowReserveError)) this.reserve?.invalidate();
          throw error;
        },
      );
    this.#locks.set(sopInstanceUid, next);
    const release = () => {
      if (this.#locks.get(sopInstanceUid) === next) this.#locks.delete(sopInstanceUid);
    };
    next.then(release, release);
    return next;
  }

  async #put(instance: ReceivedInstance, receivedAt: string): Promise<PutResult> {
    const { studyInstanceUid, sopInstanceUid } = instance.attributes;
    const studyDir = join(this.#studiesDir, studyInstanceUid);
    const target = this.instancePath(studyInstanceUid, sopInstanceUid);
    // Bytes still in memory would be new writes: the reserve applies (a staged file passed it).
    if (instance.part10.kind === "bytes") await this.reserve?.check();
    try {
      await this.#ensureStudyDir(studyDir);
    } catch (error) {
      if (instance.part10.kind === "file") await instance.part10.handle?.close().catch(() => undefined);
      throw error;
    }

    // Get the bytes onto the spool's filesystem under a temporary name, open for the fsync below
    // (done together with the sidecar's; a directory fsync is only needed once, after the renames).
    let staged: string;
    let handle: FileHandle;
    if (instance.part10.kind === "file") {
      staged = instance.part10.path;
      handle = instance.part10.handle ?? (await open(staged, "r+"));
    } else {
      staged = temporaryPathBeside(target);
      handle = await open(staged, "wx", 0o640);
      try {
        await handle.writeFile(instance.part10.bytes);
      } catch (error) {
        await handle.close().catch(() => undefined);
        await rm(staged, { force: true });
        throw error;
      }
    }
    let existing: Stats | undefined;
    let size: number;
    try {
      [existing, size] = await Promise.all([
        stat(target).catch(() => undefined),
        handle.stat().then((stats) => stats.size),
      ]);
      if (
        existing &&
        existing.size === size &&
        (await sha256OfFile(target)) === (await sha256OfFile(staged))
      ) {
        await handle.close();
        await rm(staged, { force: true });
        return { outcome: "duplicate", size, previousSize: existing.size };
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      if (instance.part10.kind === "bytes") await rm(staged, { force: true });
      throw error;
    }

    const sidecar: SpooledInstance = {
      attributes: instance.attributes,
      size,
      receivedAt,
      source: instance.source,
      ...(instance.priority ? { priority: instance.priority } : {}),
    };
    // A preview (an ECG's sheet) is made durable with the sidecar and renamed in before the .dcm,
    // so an instance in the spool has its preview whenever its sidecar names one.
    const preview = instance.preview;
    const previewPath = this.previewPath(studyInstanceUid, sopInstanceUid);
    const previewTemp = preview ? temporaryPathBeside(previewPath) : undefined;
    if (preview) {
      sidecar.preview = {
        mediaType: preview.mediaType,
        size: preview.bytes.length,
        sha256: createHash("sha256").update(preview.bytes).digest("hex"),
        ...(preview.width ? { width: preview.width } : {}),
        ...(preview.height ? { height: preview.height } : {}),
      };
    }
    const sidecarPath = target.replace(/\.dcm$/, ".json");
    // A new instance's sidecar is written in place: until the .dcm exists a sidecar means nothing
    // (scan() ignores it), and the .dcm is renamed in only after the sidecar is fsynced. A replaced
    // instance's sidecar is swapped atomically, since its .dcm is already there.
    const sidecarTemp = existing ? temporaryPathBeside(sidecarPath) : sidecarPath;
    // Two independent files: fsync them at once, so the instance waits for one flush, not two.
    // Drivers hand over staged files unsynced (InstanceSink contract): this is their one fsync.
    const synced = await Promise.allSettled([
      handle.sync().finally(() => handle.close()),
      writeFileSynced(sidecarTemp, `${JSON.stringify(sidecar)}\n`, existing ? "wx" : "w"),
      preview && previewTemp ? writeFileSynced(previewTemp, preview.bytes, "wx") : Promise.resolve(),
    ]);
    const failed = synced.find((result) => result.status === "rejected");
    if (failed) {
      // (A fresh instance's sidecar without its .dcm means nothing; removed all the same.)
      await rm(sidecarTemp, { force: true });
      if (previewTemp) await rm(previewTemp, { force: true });
      // A file the driver staged is the driver's to remove; bytes we wrote here are ours.
      if (instance.part10.kind === "bytes") await rm(staged, { force: true });
      throw failed.reason;
    }
    // Preview and sidecar first, then the instance, then one directory fsync makes the renames durable.
    if (previewTemp) await rename(previewTemp, previewPath);
    if (sidecarTemp !== sidecarPath) await rename(sidecarTemp, sidecarPath);
    await rename(staged, target);
    await this.#fsyncStudyDir(studyDir);
    return { outcome: existing ? "replaced" : "stored", size, previousSize: existing?.size ?? 0 };
  }

  /**
   * fsync a study directory through a descriptor kept open for the next instance of the same study
   * (a few studies at a time): two fewer trips to the thread pool per instance than open, fsync,
   * close. Safe because the spool never removes a study directory while running; `close()` ends them.
   */
  async #fsyncStudyDir(studyDir: string): Promise<void> {
    let fd = this.#dirDescriptors.get(studyDir);
    if (fd === undefined) {
      fd = openDirectory(studyDir, "r");
      this.#dirDescriptors.set(studyDir, fd);
      while (this.#dirDescriptors.size > OPEN_STUDY_DIRS) {
        const [oldest, descriptor] = this.#dirDescriptors.entries().next().value as [string, Promise<number>];
        this.#dirDescriptors.delete(oldest);
        void descriptor.then(closeDescriptor, () => undefined);
      }
    } else {
      // Most recently used last, so the oldest goes first.
      this.#dirDescriptors.delete(studyDir);
      this.#dirDescriptors.set(studyDir, fd);
    }
    try {
      await fsyncDescriptor(await fd);
    } catch (error) {
      if (this.#dirDescriptors.get(studyDir) === fd) this.#dirDescriptors.delete(studyDir);
      void fd.then(closeDescriptor, () => undefined);
      throw error;
    }
  }

  /** Release the study directories' descriptors (the spool stays usable: they reopen on demand). */
  async close(): Promise<void> {
    const descriptors = [...this.#dirDescriptors.values()];
    this.#dirDescriptors.clear();
    await Promise.all(descriptors.map((fd) => fd.then(closeDescriptor, () => undefined)));
  }

  /**
   * Create a study's directory once. A new directory is itself an entry in studies/: fsync that
   * too, or a power cut could lose the whole study after the modality was told success. Known
   * directories are remembered: the spool never removes one while running.
   */
  async #ensureStudyDir(studyDir: string): Promise<void> {
    if (this.#studyDirs.has(studyDir)) return;
    if (await mkdir(studyDir, { recursive: true })) await fsyncDirectory(this.#studiesDir);
    this.#studyDirs.add(studyDir);
  }

  /** Every instance in the spool, from the sidecars (used to rebuild or reconcile the index). */
  async scan(): Promise<SpooledInstance[]> {
    const result: SpooledInstance[] = [];
    for (const studyUid of await readdir(this.#studiesDir)) {
      result.push(...(await this.listStudy(studyUid)));
    }
    return result;
  }

  async listStudy(studyInstanceUid: string): Promise<SpooledInstance[]> {
    const dir = join(this.#studiesDir, studyInstanceUid);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const present = new Set(names);
    const instances: SpooledInstance[] = [];
    for (const name of names) {
      if (!name.endsWith(".dcm") || name.startsWith(".")) continue;
      const sidecarName = name.replace(/\.dcm$/, ".json");
      if (!present.has(sidecarName)) continue;
      instances.push(JSON.parse(await readFile(join(dir, sidecarName), "utf8")) as SpooledInstance);
    }
    return instances;
  }
}

/** Create `path` with `data` and fsync it; no directory fsync (the caller renames it and does that). */
async function writeFileSynced(path: string, data: Uint8Array | string, flags: "wx" | "w"): Promise<void> {
  const handle = await open(path, flags, 0o640);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw error;
  }
  await handle.close();
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

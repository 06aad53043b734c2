/**
 * Staging: what boxes have sent of studies not yet stored, kept by *content* so that every later
 * attempt (a new transfer id after a cut) finds and reuses what earlier ones delivered.
 *
 *     staging/<siteId>/transfers/<transfer>.json                 one record per manifest (durable)
 *     staging/<siteId>/content/<sopUid>-<sha256[0..16]>-<size>/  one dir per instance content
 *         <offset 16 hex>-<length 8 hex>-<chunk sha256[0..16]>.chunk
 *
 * Chunk files are written under a temporary name in their own directory and renamed, so a name
 * always stands for a whole chunk as it arrived. They are not fsynced: the commit verifies every byte
 * against the manifest's SHA-256 (and each chunk against the hash in its name on a mismatch) and
 * fsyncs what it stores, so a chunk lost or torn in a crash only ever becomes "missing" again.
 *
 * Several processes may write into the same directories at once (scale-out: chunk workers beside the
 * main process). Everything authoritative is on disk — which ranges are held is whatever chunk files
 * the directory lists — and the in-memory maps here are caches only.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "../../common/durable-file.ts";
import type { Logger } from "../../common/logger.ts";
import {
  decodeJsonMessage,
  ID_PATTERN,
  type InstanceDescriptor,
  type ManifestMessage,
  mergeRanges,
} from "../../uploader/protocol/index.ts";

/** The durable record of one manifest, as `transfers/<name>.json` holds it. */
export interface TransferRecord {
  version: 1;
  siteId: string;
  transferId: string;
  /** Lower-case hex SHA-256 of the manifest payload bytes; a commit's `manifestSha256` must match. */
  manifestSha256: string;
  receivedAt: string;
  manifest: ManifestMessage;
}

export interface StagedTransfer extends TransferRecord {
  /** The manifest's instances by SOP Instance UID, for chunk checks. */
  instances: ReadonlyMap<string, InstanceDescriptor>;
}

/** What identifies an instance's content in staging (a manifest's descriptor has these). */
export type ContentKey = Pick<InstanceDescriptor, "sopInstanceUid" | "sha256" | "size">;

/** One staged chunk, as its file name describes it. */
export interface ChunkFile {
  name: string;
  offset: number;
  length: number;
  /** First 16 hex digits of the chunk data's SHA-256. */
  sha16: string;
}

export type AssembleResult =
  | { status: "ok"; path: string }
  | { status: "gap" }
  | { status: "mismatch"; sha256: string };

const SAFE_DIR = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const CHUNK_NAME = /^([0-9a-f]{16})-([0-9a-f]{8})-([0-9a-f]{16})\.chunk$/;
const TRANSFERS = "transfers";
const CONTENT = "content";
/** A staged-bytes figure younger than this is trusted for quota checks (other processes add too). */
const USAGE_TTL_MS = 5000;
/** Temporary files older than this belong to no write in progress (a crash left them). */
const STALE_TEMP_MS = 10 * 60 * 1000;
const CACHED_TRANSFERS = 1000;

/** A transfer id is the box's free text; it names a file only when it cannot escape a directory. */
export function transferDirName(transferId: string): string {
  if (SAFE_DIR.test(transferId)) return transferId;
  return `h-${createHash("sha256").update(transferId).digest("hex").slice(0, 40)}`;
}

export function contentDirName(key: ContentKey): string {
  return `${key.sopInstanceUid}-${key.sha256.slice(0, 16)}-${key.size}`;
}

export function chunkFileName(offset: number, length: number, sha256: string): string {
  return `${offset.toString(16).padStart(16, "0")}-${length.toString(16).padStart(8, "0")}-${sha256.slice(0, 16)}.chunk`;
}

export function parseChunkName(name: string): ChunkFile | undefined {
  const match = CHUNK_NAME.exec(name);
  if (!match) return undefined;
  const length = Number.parseInt(match[2]!, 16);
  if (length === 0) return undefined;
  return { name, offset: Number.parseInt(match[1]!, 16), length, sha16: match[3]! };
}

export class Staging {
  readonly #root: string;
  readonly #log: Logger;
  readonly #transfers = new Map<string, StagedTransfer>();
  readonly #usage = new Map<string, { bytes: number; at: number }>();

  constructor(root: string, log: Logger) {
    this.#root = root;
    this.#log = log;
  }

  /**
   * Check what a restart finds: transfer records that cannot be read are removed (the box resends
   * its manifest), and the pre-resume layout (`<siteId>/<transfer>/` with `.part` files) is dropped.
   */
  async load(): Promise<void> {
    let transfers = 0;
    let contentDirs = 0;
    for (const siteId of await listDir(this.#root)) {
      if (!ID_PATTERN.test(siteId)) continue;
      const siteDir = join(this.#root, siteId);
      for (const name of await listDir(siteDir)) {
        if (name === TRANSFERS || name === CONTENT) continue;
        this.#log.info({ siteId, dir: name }, "staging dir of the old layout removed");
        await rm(join(siteDir, name), { recursive: true, force: true });
      }
      const transferDir = join(siteDir, TRANSFERS);
      for (const name of await listDir(transferDir)) {
        const path = join(transferDir, name);
        if (!name.endsWith(".json")) {
          if (name.endsWith(".tmp")) await rm(path, { force: true });
          continue;
        }
        const record = await readRecord(path).catch((error: unknown) => {
          this.#log.warn({ siteId, file: name, reason: (error as Error).message }, "transfer record removed");
          return rm(path, { force: true }).then(() => undefined);
        });
        if (record && record.siteId === siteId) {
          this.#cache(toStaged(record));
          transfers++;
        }
      }
      for (const name of await listDir(join(siteDir, CONTENT))) {
        await removeStaleTemps(join(siteDir, CONTENT, name), Date.now());
        contentDirs++;
      }
    }
    this.#log.info({ transfers, contentDirs }, "staging loaded");
  }

  /**
   * Record a manifest durably. The same manifest again (an MQTT redelivery, or the same bytes sent
   * after a reconnect) is "resumed"; another manifest under the same id replaces the record
   * ("restarted"). Content staged so far is kept either way: it is keyed by content, not transfer.
   */
  async begin(
    siteId: string,
    manifest: ManifestMessage,
    manifestSha256: string,
  ): Promise<{ outcome: "new" | "resumed" | "restarted"; transfer: StagedTransfer }> {
    const path = this.#transferPath(siteId, manifest.transferId);
    const existing = await this.read(siteId, manifest.transferId);
    if (existing && existing.manifestSha256 === manifestSha256) {
      // Its mtime is the transfer's last sign of life for the sweep.
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return { outcome: "resumed", transfer: existing };
    }
    const record: TransferRecord = {
      version: 1,
      siteId,
      transferId: manifest.transferId,
      manifestSha256,
      receivedAt: new Date().toISOString(),
      manifest,
    };
    await writeFileDurable(path, JSON.stringify(record));
    const transfer = toStaged(record);
    this.#cache(transfer);
    return { outcome: existing ? "restarted" : "new", transfer };
  }

  /** A site's transfer, from the cache when this process has seen it (chunks: the hot path). */
  async get(siteId: string, transferId: string): Promise<StagedTransfer | undefined> {
    return this.#transfers.get(cacheKey(siteId, transferId)) ?? this.read(siteId, transferId);
  }

  /** A site's transfer as the disk has it now (another process may have replaced or removed it). */
  async read(siteId: string, transferId: string): Promise<StagedTransfer | undefined> {
    let record: TransferRecord | undefined;
    try {
      record = await readRecord(this.#transferPath(siteId, transferId));
    } catch (error) {
      this.#log.warn({ siteId, transferId, reason: (error as Error).message }, "transfer record unreadable");
    }
    if (!record || record.siteId !== siteId || record.transferId !== transferId) {
      this.#transfers.delete(cacheKey(siteId, transferId));
      return undefined;
    }
    const transfer = toStaged(record);
    this.#cache(transfer);
    return transfer;
  }

  /** Another site under which this transfer id is staged, if any (for CROSS_SITE warnings only). */
  async siteHolding(siteId: string, transferId: string): Promise<string | undefined> {
    for (const other of await listDir(this.#root)) {
      if (other === siteId || !ID_PATTERN.test(other)) continue;
      if (await exists(this.#transferPath(other, transferId))) return other;
    }
    return undefined;
  }

  async removeTransfer(transfer: Pick<StagedTransfer, "siteId" | "transferId">): Promise<void> {
    this.#transfers.delete(cacheKey(transfer.siteId, transfer.transferId));
    await rm(this.#transferPath(transfer.siteId, transfer.transferId), { force: true });
  }

  contentDir(siteId: string, key: ContentKey): string {
    return join(this.#root, siteId, CONTENT, contentDirName(key));
  }

  /** The chunk files staged for this content (within its size), in offset order. */
  async chunks(siteId: string, key: ContentKey): Promise<ChunkFile[]> {
    const found: ChunkFile[] = [];
    for (const name of await listDir(this.contentDir(siteId, key))) {
      const chunk = parseChunkName(name);
      if (chunk && chunk.offset + chunk.length <= key.size) found.push(chunk);
    }
    return found.sort((a, b) => a.offset - b.offset || b.length - a.length);
  }

  /** Byte ranges of this content held in staging, merged. */
  async held(siteId: string, key: ContentKey): Promise<Array<[number, number]>> {
    return mergeRanges((await this.chunks(siteId, key)).map((c) => [c.offset, c.offset + c.length]));
  }

  /** Names of the content dirs a site has (one readdir, to skip looking into dirs that are not there). */
  async contentDirNames(siteId: string): Promise<Set<string>> {
    return new Set(await listDir(join(this.#root, siteId, CONTENT)));
  }

  /**
   * Stage one chunk (the caller checked it lies within the instance). Written to a temporary name and
   * renamed, so a reader sees a whole chunk or none; the same chunk again replaces itself.
   */
  async writeChunk(
    siteId: string,
    key: ContentKey,
    offset: number,
    data: Buffer,
    sha256: string,
  ): Promise<void> {
    const dir = this.contentDir(siteId, key);
    const name = chunkFileName(offset, data.length, sha256);
    for (let attempt = 0; ; attempt++) {
      const temporary = join(dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(temporary, data, { mode: 0o640 });
        await rename(temporary, join(dir, name));
        break;
      } catch (error) {
        await rm(temporary, { force: true });
        // The commit of another attempt (maybe in another process) removed the dir meanwhile.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt > 0) throw error;
      }
    }
    const usage = this.#usage.get(siteId);
    if (usage) usage.bytes += data.length;
  }

  /**
   * Concatenate the chunk files into one file (overlaps skipped), hashing while copying, and fsync
   * it. "gap": a range is not covered; "mismatch": the whole file's SHA-256 is not the expected one.
   */
  async assemble(siteId: string, key: ContentKey): Promise<AssembleResult> {
    const dir = this.contentDir(siteId, key);
    const chunks = await this.chunks(siteId, key);
    if (chunks.length === 0) return { status: "gap" };
    const path = join(dir, `.assembled-${randomBytes(6).toString("hex")}.tmp`);
    const hash = createHash("sha256");
    const handle = await open(path, "wx", 0o640);
    let position = 0;
    let complete = false;
    try {
      for (const chunk of chunks) {
        const end = chunk.offset + chunk.length;
        if (end <= position) continue;
        if (chunk.offset > position) break;
        let data: Buffer;
        try {
          data = await readFile(join(dir, chunk.name));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
          throw error;
        }
        // A file shorter than its name says (torn by a crash) leaves a gap the box fills again.
        if (data.length !== chunk.length) {
          await unlink(join(dir, chunk.name)).catch(() => undefined);
          break;
        }
        const piece = data.subarray(position - chunk.offset);
        await handle.write(piece, 0, piece.length, position);
        hash.update(piece);
        position = end;
      }
      complete = position === key.size;
      if (complete) await handle.sync();
    } finally {
      await handle.close();
    }
    if (!complete) {
      await rm(path, { force: true });
      return { status: "gap" };
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== key.sha256) {
      await rm(path, { force: true });
      return { status: "mismatch", sha256 };
    }
    return { status: "ok", path };
  }

  /**
   * After a whole-file mismatch: re-hash each chunk file against its name and delete the bad ones.
   * When every chunk matches its name the box sent consistent pieces of other content (its file
   * changed under it), so nothing staged can be trusted and all of it goes. Returns the bytes removed.
   */
  async discardBadChunks(siteId: string, key: ContentKey): Promise<{ bad: number; removedBytes: number }> {
    const dir = this.contentDir(siteId, key);
    const chunks = await this.chunks(siteId, key);
    const bad: ChunkFile[] = [];
    for (const chunk of chunks) {
      const data = await readFile(join(dir, chunk.name)).catch(() => undefined);
      if (!data) continue;
      const sha = createHash("sha256").update(data).digest("hex");
      if (data.length !== chunk.length || !sha.startsWith(chunk.sha16)) bad.push(chunk);
    }
    const doomed = bad.length > 0 ? bad : chunks;
    for (const chunk of doomed) await unlink(join(dir, chunk.name)).catch(() => undefined);
    this.#usage.delete(siteId);
    return { bad: bad.length, removedBytes: doomed.reduce((sum, c) => sum + c.length, 0) };
  }

  /** The content is stored (or cannot be used): its staged chunks go. */
  async removeContent(siteId: string, key: ContentKey): Promise<void> {
    await rm(this.contentDir(siteId, key), { recursive: true, force: true });
    this.#usage.delete(siteId);
  }

  /** Bytes a site has staged (from the chunk file names; refreshed from disk every few seconds). */
  async stagedBytes(siteId: string, now = Date.now()): Promise<number> {
    const cached = this.#usage.get(siteId);
    if (cached && now - cached.at < USAGE_TTL_MS) return cached.bytes;
    let bytes = 0;
    const contentRoot = join(this.#root, siteId, CONTENT);
    for (const dir of await listDir(contentRoot)) {
      for (const name of await listDir(join(contentRoot, dir))) bytes += parseChunkName(name)?.length ?? 0;
    }
    this.#usage.set(siteId, { bytes, at: now });
    return bytes;
  }

  /**
   * Remove what boxes abandoned: transfers with no sign of life (their record or any of their
   * content dirs changed) for `maxIdleMs`, and content dirs idle that long that no live transfer
   * needs. Returns how many transfers were removed.
   */
  async sweep(maxIdleMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const siteId of await listDir(this.#root)) {
      if (!ID_PATTERN.test(siteId)) continue;
      const contentRoot = join(this.#root, siteId, CONTENT);
      const contentTimes = new Map<string, number>();
      for (const name of await listDir(contentRoot)) {
        const mtime = await mtimeOf(join(contentRoot, name));
        if (mtime !== undefined) contentTimes.set(name, mtime);
      }
      const needed = new Set<string>();
      const transferDir = join(this.#root, siteId, TRANSFERS);
      for (const name of await listDir(transferDir)) {
        if (!name.endsWith(".json")) continue;
        const path = join(transferDir, name);
        const record = await readRecord(path).catch(() => undefined);
        const dirs = record?.manifest.instances.map(contentDirName) ?? [];
        const lastActivity = Math.max(
          (await mtimeOf(path)) ?? 0,
          ...dirs.map((dir) => contentTimes.get(dir) ?? 0),
        );
        if (record && now - lastActivity <= maxIdleMs) {
          for (const dir of dirs) needed.add(dir);
          continue;
        }
        this.#log.info({ siteId, transferId: record?.transferId, file: name }, "abandoned transfer removed");
        if (record) this.#transfers.delete(cacheKey(siteId, record.transferId));
        await rm(path, { force: true });
        removed++;
      }
      for (const [name, mtime] of contentTimes) {
        if (needed.has(name) || now - mtime <= maxIdleMs) {
          await removeStaleTemps(join(contentRoot, name), now);
          continue;
        }
        this.#log.info({ siteId, dir: name }, "abandoned staged content removed");
        await rm(join(contentRoot, name), { recursive: true, force: true });
        this.#usage.delete(siteId);
      }
    }
    return removed;
  }

  #transferPath(siteId: string, transferId: string): string {
    return join(this.#root, siteId, TRANSFERS, `${transferDirName(transferId)}.json`);
  }

  #cache(transfer: StagedTransfer): void {
    const key = cacheKey(transfer.siteId, transfer.transferId);
    this.#transfers.delete(key);
    this.#transfers.set(key, transfer);
    if (this.#transfers.size > CACHED_TRANSFERS) this.#transfers.delete(this.#transfers.keys().next().value!);
  }
}

function cacheKey(siteId: string, transferId: string): string {
  return `${siteId}/${transferId}`;
}

function toStaged(record: TransferRecord): StagedTransfer {
  return { ...record, instances: new Map(record.manifest.instances.map((i) => [i.sopInstanceUid, i])) };
}

/** A transfer record from disk, its manifest checked again; undefined when there is none. */
async function readRecord(path: string): Promise<TransferRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const record = JSON.parse(text) as TransferRecord;
  if (
    record?.version !== 1 ||
    typeof record.siteId !== "string" ||
    typeof record.transferId !== "string" ||
    typeof record.manifestSha256 !== "string"
  ) {
    throw new Error("not a transfer record");
  }
  const manifest = decodeJsonMessage(Buffer.from(JSON.stringify(record.manifest)), "manifest");
  if (manifest.transferId !== record.transferId) throw new Error("transfer record names another transfer");
  return { ...record, manifest };
}

async function removeStaleTemps(dir: string, now: number): Promise<void> {
  for (const name of await listDir(dir)) {
    if (!name.endsWith(".tmp")) continue;
    const mtime = await mtimeOf(join(dir, name));
    if (mtime !== undefined && now - mtime > STALE_TEMP_MS) await rm(join(dir, name), { force: true });
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await mtimeOf(path)) !== undefined;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}

/**
 * Staging: transfers in progress, `staging/<siteId>/<transfer dir>/` holding the manifest
 * (written durably on arrival, so a restart mid-transfer loses nothing the box already sent) and one
 * `<sopInstanceUid>.part` per instance, filled by positional writes as chunks arrive in any order.
 *
 * Part files are not fsynced per chunk: the commit verifies every byte against the manifest's SHA-256
 * and fsyncs before anything is acknowledged, so a chunk lost in a crash only becomes "missing".
 */
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDirectory, writeFileDurable } from "../../common/durable-file.ts";
import type { Logger } from "../../common/logger.ts";
import { decodeJsonMessage, ID_PATTERN, type ManifestMessage } from "../../uploader/protocol/index.ts";

export interface StagedTransfer {
  siteId: string;
  transferId: string;
  manifest: ManifestMessage;
  dir: string;
  /** Instances of the manifest by SOP Instance UID, for chunk checks. */
  sizes: Map<string, number>;
  lastActivity: number;
}

const SAFE_DIR = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** A transfer id is the box's free text; it names a directory only when it cannot escape one. */
export function transferDirName(transferId: string): string {
  if (SAFE_DIR.test(transferId)) return transferId;
  return `h-${createHash("sha256").update(transferId).digest("hex").slice(0, 40)}`;
}

export class Staging {
  readonly #root: string;
  readonly #log: Logger;
  readonly #transfers = new Map<string, StagedTransfer>();

  constructor(root: string, log: Logger) {
    this.#root = root;
    this.#log = log;
  }

  /** Pick up transfers that were in progress when the reading centre stopped. */
  async load(): Promise<void> {
    for (const siteId of await listDir(this.#root)) {
      if (!ID_PATTERN.test(siteId)) continue;
      for (const name of await listDir(join(this.#root, siteId))) {
        const dir = join(this.#root, siteId, name);
        try {
          const manifest = decodeJsonMessage(await readFile(join(dir, "manifest.json")), "manifest");
          this.#track(siteId, manifest, dir);
        } catch (error) {
          // A directory without a readable manifest is an interrupted start; the box resends it.
          this.#log.warn(
            { siteId, dir: name, reason: (error as Error).message },
            "staging dir without manifest removed",
          );
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    this.#log.info({ transfers: this.#transfers.size }, "staging loaded");
  }

  get(siteId: string, transferId: string): StagedTransfer | undefined {
    return this.#transfers.get(`${siteId}/${transferId}`);
  }

  /**
   * Start (or resume) a transfer. A manifest seen again for the same transfer (an MQTT QoS 1
   * redelivery) keeps what is staged; a different manifest under the same id starts over.
   */
  async begin(siteId: string, manifest: ManifestMessage): Promise<"new" | "resumed" | "restarted"> {
    const existing = this.get(siteId, manifest.transferId);
    const text = JSON.stringify(manifest);
    if (existing && JSON.stringify(existing.manifest) === text) {
      existing.lastActivity = Date.now();
      return "resumed";
    }
    const dir = join(this.#root, siteId, transferDirName(manifest.transferId));
    if (existing) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFileDurable(join(dir, "manifest.json"), text);
    this.#track(siteId, manifest, dir);
    return existing ? "restarted" : "new";
  }

  partPath(transfer: StagedTransfer, sopInstanceUid: string): string {
    return join(transfer.dir, `${sopInstanceUid}.part`);
  }

  /** Write chunk data at its offset; the caller has checked it lies within the instance. */
  async write(transfer: StagedTransfer, sopInstanceUid: string, offset: number, data: Buffer): Promise<void> {
    // O_CREAT without O_APPEND: positional writes land where they belong, in any arrival order.
    const handle = await open(
      this.partPath(transfer, sopInstanceUid),
      constants.O_WRONLY | constants.O_CREAT,
      0o640,
    );
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, offset + written);
        written += bytesWritten;
      }
    } finally {
      await handle.close();
    }
    transfer.lastActivity = Date.now();
  }

  /** The staged file's size and SHA-256, or undefined when nothing was staged for it. */
  async digest(
    transfer: StagedTransfer,
    sopInstanceUid: string,
  ): Promise<{ size: number; sha256: string } | undefined> {
    const path = this.partPath(transfer, sopInstanceUid);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return { size, sha256: hash.digest("hex") };
  }

  async remove(transfer: StagedTransfer): Promise<void> {
    this.#transfers.delete(`${transfer.siteId}/${transfer.transferId}`);
    await rm(transfer.dir, { recursive: true, force: true });
    await fsyncDirectory(join(this.#root, transfer.siteId)).catch(() => undefined);
  }

  /** Drop transfers the box abandoned (it starts a new transfer id for every attempt). */
  async sweep(maxIdleMs: number, now = Date.now()): Promise<number> {
    const stale = [...this.#transfers.values()].filter((t) => now - t.lastActivity > maxIdleMs);
    for (const transfer of stale) {
      this.#log.info(
        { siteId: transfer.siteId, transferId: transfer.transferId },
        "abandoned transfer removed",
      );
      await this.remove(transfer);
    }
    return stale.length;
  }

  #track(siteId: string, manifest: ManifestMessage, dir: string): void {
    this.#transfers.set(`${siteId}/${manifest.transferId}`, {
      siteId,
      transferId: manifest.transferId,
      manifest,
      dir,
      sizes: new Map(manifest.instances.map((i) => [i.sopInstanceUid, i.size])),
      lastActivity: Date.now(),
    });
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

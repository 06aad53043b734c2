/**
 * The preview store: small images a box sends ahead of a study's full data (an ECG's 12-lead sheet
 * now; ultrasound and DR thumbnails later), kept per site, study and preview id:
 *
 *   previews/<siteId>/<studyInstanceUid>/<previewId>/preview.json   what it is (written last)
 *   previews/<siteId>/<studyInstanceUid>/<previewId>/<sha256>.bin   the image, named by content
 *
 * A preview is keyed by the site whose topic it came on, so one box can never touch another's. It is
 * kept whether or not the study's manifest or commit has arrived: the study record and its previews
 * meet by the same (siteId, studyInstanceUid) key, nothing is moved when the study arrives. Previews
 * whose study never arrives are removed by `sweepOrphans` after a while.
 *
 * Writes are durable and crash-safe: the new image is written (fsynced) under its own name, then
 * `preview.json` is replaced atomically to point at it, then the old image is removed. After a
 * crash, `open` removes whatever `preview.json` does not point at.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "../../common/durable-file.ts";
import type { Logger } from "../../common/logger.ts";
import {
  ID_PATTERN,
  MAX_PREVIEWS_PER_STUDY,
  PREVIEW_ID_PATTERN,
  PREVIEW_MEDIA_TYPES,
  type Preview,
  type PreviewMediaType,
} from "../../uploader/protocol/index.ts";
import { type StudyKey, studyKeyString } from "./types.ts";

const UID = /^[0-9]+(\.[0-9]+)*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const META = "preview.json";

export interface PreviewRecord {
  siteId: string;
  studyInstanceUid: string;
  previewId: string;
  mediaType: PreviewMediaType;
  size: number;
  sha256: string;
  width?: number;
  height?: number;
  description?: string;
  /** When the reading centre first stored this content (an unchanged redelivery keeps it). */
  receivedAt: string;
}

/** What `put` did: stored a new preview id, replaced one's content, nothing (same content), or refused. */
export type PutOutcome = "new" | "replaced" | "unchanged" | "limit";

export class PreviewStore {
  readonly #root: string;
  readonly #log: Logger;
  /** studyKeyString → previewId → record. */
  readonly #byStudy = new Map<string, Map<string, PreviewRecord>>();
  /** Writes and sweeps run one at a time (the sweep runs on a timer beside the receiver). */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(root: string, log: Logger) {
    this.#root = root;
    this.#log = log;
  }

  /** Load every stored preview's record; remove leftovers of interrupted writes. */
  static async open(root: string, log: Logger): Promise<PreviewStore> {
    const store = new PreviewStore(root, log);
    let count = 0;
    for (const siteId of (await listDir(root)).filter((n) => ID_PATTERN.test(n))) {
      for (const uid of (await listDir(join(root, siteId))).filter((n) => UID.test(n))) {
        for (const previewId of await listDir(join(root, siteId, uid))) {
          if (!PREVIEW_ID_PATTERN.test(previewId)) continue;
          const record = await store.#load(siteId, uid, previewId);
          if (!record) continue;
          store.#remember(record);
          count += 1;
        }
      }
    }
    log.info({ previews: count }, "preview store loaded");
    return store;
  }

  /** The study's previews, in previewId order ("sheet-2" before "sheet-10"). */
  list(key: StudyKey): PreviewRecord[] {
    const previews = this.#byStudy.get(studyKeyString(key));
    if (!previews) return [];
    return [...previews.values()].sort((a, b) =>
      a.previewId.localeCompare(b.previewId, "en", { numeric: true }),
    );
  }

  get(key: StudyKey, previewId: string): PreviewRecord | undefined {
    return this.#byStudy.get(studyKeyString(key))?.get(previewId);
  }

  /** Every site holding previews for this Study Instance UID. */
  siteIdsFor(studyInstanceUid: string): string[] {
    const sites: string[] = [];
    for (const previews of this.#byStudy.values()) {
      const first = previews.values().next().value;
      if (first?.studyInstanceUid === studyInstanceUid) sites.push(first.siteId);
    }
    return sites;
  }

  /** Every (site, study) that has previews. */
  keys(): StudyKey[] {
    const keys: StudyKey[] = [];
    for (const previews of this.#byStudy.values()) {
      const first = previews.values().next().value;
      if (first) keys.push({ siteId: first.siteId, studyInstanceUid: first.studyInstanceUid });
    }
    return keys;
  }

  /**
   * Store a decoded (hence verified) preview durably under `siteId`. The same content again is a
   * no-op; new content under a known previewId replaces the old; a new previewId beyond
   * MAX_PREVIEWS_PER_STUDY is refused.
   */
  put(siteId: string, preview: Preview): Promise<PutOutcome> {
    return this.#serial(() => this.#put(siteId, preview));
  }

  async #put(siteId: string, preview: Preview): Promise<PutOutcome> {
    const key = { siteId, studyInstanceUid: preview.studyInstanceUid };
    const dir = this.#dir(key, preview.previewId);
    const current = this.get(key, preview.previewId);
    const record: PreviewRecord = {
      siteId,
      studyInstanceUid: preview.studyInstanceUid,
      previewId: preview.previewId,
      mediaType: preview.mediaType,
      size: preview.size,
      sha256: preview.sha256,
      ...(preview.width === undefined ? {} : { width: preview.width }),
      ...(preview.height === undefined ? {} : { height: preview.height }),
      ...(preview.description === undefined ? {} : { description: preview.description }),
      receivedAt: current?.sha256 === preview.sha256 ? current.receivedAt : new Date().toISOString(),
    };
    if (current && sameRecord(current, record)) return "unchanged";
    if (!current && this.list(key).length >= MAX_PREVIEWS_PER_STUDY) return "limit";

    if (current?.sha256 !== preview.sha256) {
      await writeFileDurable(join(dir, `${preview.sha256}.bin`), preview.data);
    }
    await writeFileDurable(join(dir, META), `${JSON.stringify(record)}\n`);
    this.#remember(record);
    if (current && current.sha256 !== preview.sha256) {
      await rm(join(dir, `${current.sha256}.bin`), { force: true });
    }
    return current ? "replaced" : "new";
  }

  /** The image bytes (at most MAX_PREVIEW_BYTES, so read whole). */
  read(record: PreviewRecord): Promise<Buffer> {
    return readFile(join(this.#dir(record, record.previewId), `${record.sha256}.bin`));
  }

  /**
   * Remove the previews of studies that never arrived: those for which `hasStudy` is false and
   * whose newest preview is older than `maxAgeMs`.
   */
  sweepOrphans(hasStudy: (key: StudyKey) => boolean, maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.#serial(() => this.#sweepOrphans(hasStudy, maxAgeMs, now));
  }

  async #sweepOrphans(hasStudy: (key: StudyKey) => boolean, maxAgeMs: number, now: number): Promise<number> {
    let removed = 0;
    for (const key of this.keys()) {
      if (hasStudy(key)) continue;
      const newest = Math.max(...this.list(key).map((p) => Date.parse(p.receivedAt)));
      if (now - newest <= maxAgeMs) continue;
      this.#byStudy.delete(studyKeyString(key));
      await rm(this.#studyDir(key), { recursive: true, force: true });
      this.#log.info(
        { siteId: key.siteId, studyInstanceUid: key.studyInstanceUid },
        "previews of a study that never arrived removed",
      );
      removed += 1;
    }
    return removed;
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  #studyDir(key: StudyKey): string {
    // Every component was validated (topic site id, UID, preview id pattern); checked again here.
    if (!ID_PATTERN.test(key.siteId) || !UID.test(key.studyInstanceUid)) {
      throw new RangeError("not a valid site id / study UID for a path");
    }
    return join(this.#root, key.siteId, key.studyInstanceUid);
  }

  #dir(key: StudyKey, previewId: string): string {
    if (!PREVIEW_ID_PATTERN.test(previewId)) throw new RangeError("not a valid preview id for a path");
    return join(this.#studyDir(key), previewId);
  }

  #remember(record: PreviewRecord): void {
    const key = studyKeyString(record);
    const previews = this.#byStudy.get(key) ?? new Map<string, PreviewRecord>();
    previews.set(record.previewId, record);
    this.#byStudy.set(key, previews);
  }

  async #load(siteId: string, uid: string, previewId: string): Promise<PreviewRecord | undefined> {
    const dir = join(this.#root, siteId, uid, previewId);
    const names = await listDir(dir);
    let record: PreviewRecord | undefined;
    try {
      const parsed = JSON.parse(await readFile(join(dir, META), "utf8")) as PreviewRecord;
      if (
        parsed.siteId === siteId &&
        parsed.studyInstanceUid === uid &&
        parsed.previewId === previewId &&
        SHA256_HEX.test(parsed.sha256) &&
        (PREVIEW_MEDIA_TYPES as readonly string[]).includes(parsed.mediaType) &&
        names.includes(`${parsed.sha256}.bin`)
      ) {
        record = parsed;
      }
    } catch {
      record = undefined;
    }
    if (!record) {
      // An interrupted first write (no record yet) or a damaged one: the box's next send restores it.
      this.#log.warn({ siteId, studyInstanceUid: uid, previewId }, "unusable preview removed");
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
    // Leftovers of an interrupted replacement: the image the record no longer points at, temp files.
    for (const name of names) {
      if (name !== META && name !== `${record.sha256}.bin`) await rm(join(dir, name), { force: true });
    }
    return record;
  }
}

function sameRecord(a: PreviewRecord, b: PreviewRecord): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].every((k) => x[k] === y[k]);
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

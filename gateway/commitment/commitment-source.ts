/**
 * The gateway's answer to "may the box commit to this instance?" (the drivers' CommitmentSource,
 * PS3.4 J.3): an instance is found in the spool by its file (`<study>/<sop>.dcm`, durable before
 * the modality got C-STORE success); in "delivered" mode it must also be listed in its study's
 * `deliveredSopInstanceUids` (the county acknowledged holding it), else it is "pending".
 */
import { readFile, stat } from "node:fs/promises";
import type { CommitmentSource, CommitmentStatus } from "../../device-drivers/index.ts";
import type { Spool, SpooledInstance } from "../spool/spool.ts";
import type { StudyRecord } from "../studies/study-index.ts";

export type CommitmentMode = "stored" | "delivered";

export interface SpoolCommitmentOptions {
  mode: CommitmentMode;
  spool: Pick<Spool, "instancePath">;
  /** The study index's records (in memory): where to look, and what the county acknowledged. */
  studies: { list(): StudyRecord[]; get(studyInstanceUid: string): StudyRecord | undefined };
}

export class SpoolCommitmentSource implements CommitmentSource {
  readonly #o: SpoolCommitmentOptions;
  /** SOP Instance UID → its study, once found (an instance never moves between studies). */
  readonly #studyOf = new Map<string, string>();

  constructor(options: SpoolCommitmentOptions) {
    this.#o = options;
  }

  async status(sopInstanceUid: string, sopClassUid: string): Promise<CommitmentStatus> {
    const studyUid = await this.#find(sopInstanceUid);
    if (!studyUid) return "unknown";
    const sidecar = await readSidecar(this.#o.spool.instancePath(studyUid, sopInstanceUid));
    if (!sidecar) return "unknown";
    if (sidecar.attributes.sopClassUid !== sopClassUid) return "conflict";
    if (this.#o.mode === "stored") return "committed";
    const delivered = this.#o.studies.get(studyUid)?.deliveredSopInstanceUids ?? [];
    return delivered.includes(sopInstanceUid) ? "committed" : "pending";
  }

  async #find(sopInstanceUid: string): Promise<string | undefined> {
    const known = this.#studyOf.get(sopInstanceUid);
    if (known && (await exists(this.#o.spool.instancePath(known, sopInstanceUid)))) return known;
    this.#studyOf.delete(sopInstanceUid);
    // Newest studies first: a modality asks for commitment right after sending.
    const studies = this.#o.studies.list();
    for (const study of studies) {
      if (await exists(this.#o.spool.instancePath(study.studyInstanceUid, sopInstanceUid))) {
        this.#studyOf.set(sopInstanceUid, study.studyInstanceUid);
        return study.studyInstanceUid;
      }
    }
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** The spool writes the sidecar before the instance, so a present `.dcm` has one. */
async function readSidecar(instancePath: string): Promise<SpooledInstance | undefined> {
  try {
    return JSON.parse(await readFile(instancePath.replace(/\.dcm$/, ".json"), "utf8")) as SpooledInstance;
  } catch {
    return undefined;
  }
}

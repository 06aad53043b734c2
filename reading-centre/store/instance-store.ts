/**
 * The instance store: verified DICOM Part 10 files, content-addressed by their SHA-256
 * (`instances/<first two hex>/<sha256>.dcm`).
 *
 * Naming files by content makes storing idempotent (the same bytes land on the same name, whichever
 * site or transfer brought them), lets a resent corrected instance sit beside the old version until
 * the index points at it, and means a file's name is its own integrity check.
 */
import { createReadStream, type ReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory, renameDurable } from "../../common/durable-file.ts";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class InstanceStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  pathFor(sha256: string): string {
    // The name comes from a validated manifest, but the store never trusts a path component blindly.
    if (!SHA256_HEX.test(sha256)) throw new RangeError("not a lower-case hex SHA-256");
    return join(this.#root, sha256.slice(0, 2), `${sha256}.dcm`);
  }

  async has(sha256: string, size: number): Promise<boolean> {
    try {
      return (await stat(this.pathFor(sha256))).size === size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
  }

  /**
   * Move an already verified and fsynced file into the store under its hash. The caller has checked
   * the bytes hash to `sha256`, so an existing file of that name holds the same bytes.
   */
  async adopt(verifiedPath: string, sha256: string): Promise<void> {
    await renameDurable(verifiedPath, this.pathFor(sha256));
  }

  /** Remove a version no study refers to any more (after a corrected instance replaced it). */
  async remove(sha256: string): Promise<void> {
    const path = this.pathFor(sha256);
    await rm(path, { force: true });
    await fsyncDirectory(dirname(path));
  }

  openRead(sha256: string): ReadStream {
    return createReadStream(this.pathFor(sha256));
  }
}

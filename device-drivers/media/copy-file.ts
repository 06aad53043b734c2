/**
 * Reading the user's files: opened read-only, streamed (a 500 MB cine never sits in memory), hashed
 * as read. The medium is never written to; only the copy on the sink's filesystem is.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

export interface Digest {
  sha256: string;
  size: number;
}

/** SHA-256 and length of a file's bytes. */
export async function hashFile(path: string): Promise<Digest> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { flags: "r" }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/**
 * Copy `source` to the new file `target` (which must not exist), optionally after `prefix` bytes,
 * (not fsynced: the sink fsyncs what it takes, see InstanceSink). Returns the digest of the source bytes alone, so the caller can tell whether the
 * file changed since it was hashed.
 */
export async function copyFileDurable(source: string, target: string, prefix?: Uint8Array): Promise<Digest> {
  const hash = createHash("sha256");
  let size = 0;
  const out = await open(target, "wx", 0o640);
  try {
    if (prefix) await out.write(prefix);
    for await (const chunk of createReadStream(source, { flags: "r" }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      await out.write(chunk);
    }
  } finally {
    await out.close();
  }
  return { sha256: hash.digest("hex"), size };
}

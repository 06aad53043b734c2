/**
 * A spool disk that really fills up: the gateway's data directory on an 8 MiB tmpfs, a 2 MiB reserve.
 * storescu sends until the gateway answers A700 (Out of Resources); every instance acknowledged
 * before is intact and indexed; once space is freed the same instance is accepted, by itself. Then an
 * instance larger than the free space hits a real ENOSPC mid-dataset: A700 again, nothing lost.
 *
 * Needs root (or CAP_SYS_ADMIN) to mount a tmpfs; skips loudly, with the reason, when it cannot.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { makeDicomFile, newUid } from "./fixtures/make-dicom.ts";
import { datasetOf } from "./support/dicom-bytes.ts";
import type { RunningProcess } from "./support/processes.ts";
import { run, startGateway } from "./support/stack.ts";

const MiB = 1024 * 1024;

/** Mount an 8 MiB tmpfs on `dir`, or say why not. */
async function mountSmallDisk(dir: string): Promise<string | undefined> {
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", dir]);
    return undefined;
  } catch (error) {
    return (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
  }
}

/** One storescu run for one file: its exit code and what it printed (it prints the status). */
function send(port: number, file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      "storescu",
      ["-v", "-aec", "DXGATE", "-aet", "TESTUS", "127.0.0.1", String(port), file],
      { timeout: 60_000, env: { ...process.env, TCP_NODELAY: "1" } },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, output: `${stdout}${stderr}` });
      },
    );
  });
}

async function free(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

test("disk full: A700 before the reserve is crossed and on ENOSPC; nothing acknowledged is lost; resumes by itself", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-diskfull-"));
  const disk = join(root, "disk");
  await mkdir(disk);
  const whyNot = await mountSmallDisk(disk);
  if (whyNot) {
    await rm(root, { recursive: true, force: true });
    const reason = `cannot mount a tmpfs here (${whyNot}); run as root to test a really full disk`;
    process.stderr.write(`\n*** SKIPPED disk-full test: ${reason} ***\n\n`);
    t.skip(reason);
    return;
  }
  let gateway: RunningProcess | undefined;
  t.after(async () => {
    await gateway?.kill();
    await run("umount", [disk]).catch(() => run("umount", ["-l", disk]));
    await rm(root, { recursive: true, force: true });
  });

  // Something else on the disk (logs, the OS): freeing it later is how space "returns".
  const filler = join(disk, "filler.bin");
  await writeFile(filler, Buffer.alloc(3 * MiB, 1));
  const dataDir = join(disk, "gateway");
  gateway = await startGateway(dataDir, 1, 600_000, { DXGATE_SPOOL_RESERVE_MB: "2" });
  const dicomPort = gateway.port("dicom");
  const api = `http://127.0.0.1:${gateway.port("http")}`;

  // 640 × 480 × 16-bit ultrasound frames, about 600 KiB each, one study; files off the small disk.
  const corpus = join(root, "corpus");
  await mkdir(corpus);
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const files: Array<{ path: string; sopInstanceUid: string; bytes: Uint8Array }> = [];
  for (let i = 0; i < 12; i += 1) {
    const file = makeDicomFile({
      studyInstanceUid,
      seriesInstanceUid,
      rows: 480,
      columns: 640,
      bitsAllocated: 16,
    });
    const path = join(corpus, `${i}.dcm`);
    await writeFile(path, file.bytes);
    // storescu re-encodes sequence lengths: the reference is the file as DCMTK writes it.
    await run("dcmconv", [path, path], { timeout: 10_000 });
    files.push({ path, sopInstanceUid: file.sopInstanceUid, bytes: await readFile(path) });
  }

  // Phase 1: send until refused. 8 MiB − 3 MiB filler − 2 MiB reserve leaves room for a few.
  const acknowledged: typeof files = [];
  let refused: (typeof files)[number] | undefined;
  for (const file of files) {
    const result = await send(dicomPort, file.path);
    if (result.code !== 0) {
      assert.match(result.output, /OutOfResources/, result.output);
      refused = file;
      break;
    }
    acknowledged.push(file);
  }
  assert.ok(refused, "the gateway never refused although the disk was below its reserve");
  assert.ok(acknowledged.length >= 3, `only ${acknowledged.length} instances fitted before the reserve`);
  assert.ok((await free(disk)) >= 1 * MiB, "the reserve kept free space for the index and the OS");
  assert.ok(
    gateway.lines.some((line) => line.event === "spool-below-reserve"),
    "the transition below the reserve is logged",
  );

  const checkSpool = async (expected: typeof files) => {
    const studyDir = join(dataDir, "spool", "studies", studyInstanceUid);
    for (const file of expected) {
      const stored = await readFile(join(studyDir, `${file.sopInstanceUid}.dcm`));
      assert.ok(datasetOf(stored).equals(datasetOf(file.bytes)), `${file.sopInstanceUid} is intact`);
    }
    const names = (await readdir(studyDir)).filter((name) => name.endsWith(".dcm"));
    assert.equal(names.length, expected.length, "nothing refused was stored");
    assert.deepEqual(await readdir(join(dataDir, "spool", "staging")), [], "no staging leftovers");
    const res = await fetch(`${api}/api/studies/${studyInstanceUid}`);
    assert.equal(res.status, 200);
    const study = (await res.json()) as { instanceCount: number };
    assert.equal(study.instanceCount, expected.length, "the index counts every acknowledged instance");
  };
  await checkSpool(acknowledged);

  // Phase 2: space returns; after the free-space cache expires the same instance is accepted.
  await rm(filler);
  await delay(1100);
  const again = await send(dicomPort, refused.path);
  assert.equal(again.code, 0, `${again.output}\n${gateway.output.slice(-8).join("\n")}`);
  acknowledged.push(refused);
  const next = files[acknowledged.length]!;
  assert.equal((await send(dicomPort, next.path)).code, 0);
  acknowledged.push(next);
  await checkSpool(acknowledged);
  assert.ok(gateway.lines.some((line) => line.event === "spool-reserve-ok"));

  // Phase 3: above the reserve, but an instance larger than all the free space: a real ENOSPC while
  // staging. A700, its partial file removed, every earlier instance still there.
  assert.ok((await free(disk)) >= 2 * MiB, "phase 3 needs the disk above its reserve");
  const large = makeDicomFile({ rows: 2048, columns: 2048, bitsAllocated: 16 });
  const largePath = join(corpus, "large.dcm");
  await writeFile(largePath, large.bytes);
  const full = await send(dicomPort, largePath);
  assert.notEqual(full.code, 0, "an instance that cannot fit is not acknowledged");
  assert.match(full.output, /OutOfResources/, full.output);
  assert.ok(
    gateway.lines.some(
      (line) => line.event === "store-staging-failed" && /no space left/i.test(String(line.error)),
    ),
    "the disk really ran out (ENOSPC while staging), not the reserve check",
  );
  await checkSpool(acknowledged);
  const last = files[acknowledged.length]!;
  assert.equal((await send(dicomPort, last.path)).code, 0, "the gateway serves on after ENOSPC");
  acknowledged.push(last);
  await checkSpool(acknowledged);
});

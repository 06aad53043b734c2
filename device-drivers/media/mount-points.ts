/**
 * Which removable media are mounted: the mount points below a root (udisks2 mounts a stick at
 * /media/<user>/<label> on Debian, /run/media/<user>/<label> elsewhere; usbmount at /media/usbN).
 * Read from the kernel's mount table, so an empty /media/usb0 directory is not taken for a stick.
 */
import { readFile } from "node:fs/promises";

const MOUNTINFO = "/proc/self/mountinfo";

/** Mount points strictly below `root`, outermost only (a mount inside a stick is part of that stick). */
export async function mountPointsBelow(root: string, mountinfoPath = MOUNTINFO): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(mountinfoPath, "utf8");
  } catch {
    return [];
  }
  return parseMountPointsBelow(text, root);
}

/**
 * proc(5) mountinfo: the fifth field is the mount point, with space, tab, newline and backslash
 * written as octal escapes (\040 and so on).
 */
export function parseMountPointsBelow(mountinfo: string, root: string): string[] {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  const below = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const mountPoint = field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (mountPoint.startsWith(prefix)) below.add(mountPoint);
  }
  const all = [...below].sort();
  return all.filter((point) => !all.some((other) => other !== point && point.startsWith(`${other}/`)));
}

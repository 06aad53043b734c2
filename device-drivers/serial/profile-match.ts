/**
 * Which profile drives a device that appeared. The most specific rule wins: a USB id with the
 * adapter's serial number, then a USB vendor/product id, then a path pattern; at the same level a
 * site's own profile beats a shipped one. Two profiles still tied are ambiguous: the box does not
 * guess (a wrong protocol would discard every byte) and says so in the device's state instead.
 */
import type { DeviceProfile } from "./profile.ts";
import type { UsbIdentity } from "./sysfs.ts";

export interface DeviceIdentity {
  /** The device node (/dev/ttyUSB0) or the configured path. */
  path: string;
  /** Other names of the same device (/dev/serial/by-id/…). */
  aliases: readonly string[];
  usb?: UsbIdentity | undefined;
}

export type ProfileMatch =
  | { kind: "matched"; profile: DeviceProfile; rule: string }
  | { kind: "ambiguous"; profileIds: string[] }
  | { kind: "none" };

const SERIAL = 3;
const USB_ID = 2;
const PATH = 1;

export function matchProfile(device: DeviceIdentity, profiles: readonly DeviceProfile[]): ProfileMatch {
  let best: Array<{ profile: DeviceProfile; rule: string; rank: number }> = [];
  for (const profile of profiles) {
    const hit = bestRule(profile, device);
    if (!hit) continue;
    // A site's profile outranks a shipped one at the same specificity.
    const rank = hit.level * 2 + (profile.origin === "builtin" ? 0 : 1);
    if (best.length === 0 || rank > best[0]!.rank) best = [{ profile, rule: hit.rule, rank }];
    else if (rank === best[0]!.rank) best.push({ profile, rule: hit.rule, rank });
  }
  if (best.length === 0) return { kind: "none" };
  if (best.length > 1) return { kind: "ambiguous", profileIds: best.map((b) => b.profile.id).sort() };
  return { kind: "matched", profile: best[0]!.profile, rule: best[0]!.rule };
}

function bestRule(
  profile: DeviceProfile,
  device: DeviceIdentity,
): { level: number; rule: string } | undefined {
  let hit: { level: number; rule: string } | undefined;
  const usb = device.usb;
  for (const rule of usb ? (profile.match.usb ?? []) : []) {
    if (rule.vendorId !== usb!.vendorId || rule.productId !== usb!.productId) continue;
    const id = `usb ${rule.vendorId}:${rule.productId}`;
    if (rule.serialNumber === undefined) {
      if (!hit || hit.level < USB_ID) hit = { level: USB_ID, rule: id };
    } else if (rule.serialNumber === usb!.serialNumber) {
      return { level: SERIAL, rule: `${id} serial ${rule.serialNumber}` };
    }
  }
  if (hit) return hit;
  for (const pattern of profile.match.paths ?? []) {
    const regex = globToRegExp(pattern);
    if ([device.path, ...device.aliases].some((path) => regex.test(path)))
      return { level: PATH, rule: `path ${pattern}` };
  }
  return undefined;
}

/** `*` = any run of characters except `/`, `?` = one such character; everything else literal. */
export function globToRegExp(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`);
}

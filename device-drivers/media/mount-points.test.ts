import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMountPointsBelow } from "./mount-points.ts";

// proc(5) mountinfo lines as a Debian box with a udisks2-mounted stick shows them.
const MOUNTINFO = [
  "22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw",
  "25 22 0:21 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw",
  "88 22 8:1 / /media/tech/US\\040EXPORT rw,nosuid,nodev,relatime shared:40 - vfat /dev/sda1 rw,uid=1000",
  "89 88 8:2 / /media/tech/US\\040EXPORT/inner rw shared:41 - vfat /dev/sda2 rw",
  "90 22 8:17 / /media/usb0 rw shared:42 - exfat /dev/sdb1 rw",
  "91 22 8:33 / /mediaextra/x rw shared:43 - ext4 /dev/sdc1 rw",
  "",
].join("\n");

test("mount points below the root, with octal escapes decoded, outermost only", () => {
  assert.deepEqual(parseMountPointsBelow(MOUNTINFO, "/media"), ["/media/tech/US EXPORT", "/media/usb0"]);
  assert.deepEqual(parseMountPointsBelow(MOUNTINFO, "/media/"), ["/media/tech/US EXPORT", "/media/usb0"]);
  assert.deepEqual(parseMountPointsBelow(MOUNTINFO, "/run/media"), []);
});

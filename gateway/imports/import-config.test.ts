import assert from "node:assert/strict";
import { test } from "node:test";
import { loadGatewayConfig } from "../config.ts";

test("import config: no folders and /media by default; folders from a comma-separated variable", () => {
  const defaults = loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1" } });
  assert.deepEqual(defaults.import, { folders: [], usbMountRoot: "/media", scanIntervalMs: 3000 });

  const set = loadGatewayConfig({
    env: {
      DXGATE_SITE_ID: "s1",
      DXGATE_IMPORT_FOLDERS: "/srv/us-export, /srv/dr-export,",
      DXGATE_IMPORT_USB_MOUNT_ROOT: "/run/media",
      DXGATE_IMPORT_SCAN_INTERVAL_MS: "5000",
    },
  });
  assert.deepEqual(set.import, {
    folders: ["/srv/us-export", "/srv/dr-export"],
    usbMountRoot: "/run/media",
    scanIntervalMs: 5000,
  });
});

/**
 * The serial ECG devices in the gateway API: `GET /api/devices` → one entry per device the box has
 * seen (configured ones first): path, profile, protocol, state (connected / receiving /
 * disconnected / error), since, lastRecordAt, recordsReceived, bytesReceived, bytesDiscarded,
 * lastError {code, message, at}. Device facts only, never patient data.
 */
import type { Router } from "../../common/http-router.ts";
import type { SerialDeviceStatus } from "../../device-drivers/index.ts";

export interface DeviceStatusView {
  devices(): SerialDeviceStatus[];
}

export function addDeviceRoutes(router: Router, serial: DeviceStatusView): void {
  router.add("GET", "/api/devices", () => serial.devices());
}

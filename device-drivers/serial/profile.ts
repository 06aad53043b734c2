/**
 * A device profile: everything the box needs to know to talk to one kind of ECG device on a serial
 * line, as data (JSON), so a new cart is a new file, not new code. Shipped profiles live in
 * ./profiles/; a site adds or overrides them in its profiles directory (gateway `serial.profilesDir`).
 *
 * A profile says how to recognise the device (USB vendor/product id and optionally serial number of
 * its USB-serial adapter, or a device path pattern), the line settings, the protocol spoken (a name
 * from ./protocols.ts) with that protocol's settings, and the priority its ECGs get.
 */

export type Parity = "none" | "even" | "odd";
export type FlowControl = "none" | "rtscts" | "xonxoff";
export type ProfilePriority = "stat" | "urgent" | "routine";

export interface LineSettings {
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: Parity;
  stopBits: 1 | 1.5 | 2;
  flowControl: FlowControl;
}

/** A USB device as sysfs shows it: ids as 4 lower-case hex digits. */
export interface UsbMatch {
  vendorId: string;
  productId: string;
  /** The adapter's iSerial; only that one adapter matches (a site's own profile for its own cart). */
  serialNumber?: string;
  /** What this id is (chip or device name), for people reading the file. */
  note?: string;
}

export interface DeviceProfile {
  /** Unique name, used by DXGATE_SERIAL (`path=id`), the API and the logs. */
  id: string;
  /**
   * true: a generic profile (a protocol on common USB-serial chips, not verified against one
   * model); false: written for and checked against the named vendor's model.
   */
  generic: boolean;
  vendor: string;
  model: string;
  description?: string;
  match: {
    usb?: UsbMatch[];
    /** Glob patterns (`*`, `?`) on the device path or any of its aliases (/dev/serial/by-id/…). */
    paths?: string[];
  };
  line: LineSettings;
  protocol: string;
  /** Checked against the protocol's own schema (./protocols.ts), defaults filled in. */
  protocolSettings: Record<string, unknown>;
  /** Priority of this device's ECGs; absent = the gateway's `studies.ecgPriority`. */
  priority?: ProfilePriority;
  /** The leads the device measures (informational; the record says what actually arrived). */
  leads?: string[];
  /** Where the profile came from: "builtin" or the custom file's path. */
  origin: string;
}

const HEX4 = { type: "string", pattern: "^[0-9a-fA-F]{4}$" } as const;

/** The JSON Schema of a profile file (one profile per file). */
export const PROFILE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "generic", "vendor", "model", "match", "line", "protocol"],
  properties: {
    $schema: { type: "string" },
    id: { type: "string", pattern: "^[a-z0-9][a-z0-9._-]{0,63}$" },
    generic: { type: "boolean" },
    vendor: { type: "string", minLength: 1, maxLength: 64 },
    model: { type: "string", minLength: 1, maxLength: 128 },
    description: { type: "string" },
    match: {
      type: "object",
      additionalProperties: false,
      properties: {
        usb: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["vendorId", "productId"],
            properties: {
              vendorId: HEX4,
              productId: HEX4,
              serialNumber: { type: "string", minLength: 1 },
              note: { type: "string" },
            },
          },
        },
        paths: { type: "array", items: { type: "string", pattern: "^/" } },
      },
    },
    line: {
      type: "object",
      additionalProperties: false,
      required: ["baudRate"],
      properties: {
        baudRate: { type: "integer", minimum: 50, maximum: 4000000 },
        dataBits: { enum: [5, 6, 7, 8], default: 8 },
        parity: { enum: ["none", "even", "odd"], default: "none" },
        stopBits: { enum: [1, 1.5, 2], default: 1 },
        flowControl: { enum: ["none", "rtscts", "xonxoff"], default: "none" },
      },
    },
    protocol: { type: "string", minLength: 1 },
    protocolSettings: { type: "object", default: {} },
    priority: { enum: ["stat", "urgent", "routine"] },
    leads: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
  },
} as const;

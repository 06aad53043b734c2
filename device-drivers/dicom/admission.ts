/**
 * Who may open an association with us, decided on the A-ASSOCIATE-RQ: the Calling AE Title and the
 * peer's address against the configured devices (PS3.8 7.1.1.3 Calling AE Title), and the number
 * of associations already open. A refusal carries the A-ASSOCIATE-RJ fields (PS3.8 9.3.4).
 */
import { BlockList, isIP } from "node:net";
import { ASSOCIATE_REJECT } from "./constants.ts";

/** A modality the box knows. Safe to log (no patient data). */
export interface KnownDevice {
  /** Its Calling AE Title (case-sensitive; leading and trailing spaces are insignificant). */
  aeTitle: string;
  /** Addresses it may connect from: IPv4/IPv6 addresses or CIDR blocks; absent = any address. */
  hosts?: readonly string[];
  /** A label for the technician's page and the logs. */
  name?: string;
  /** Its own Storage Commitment SCU listener, for N-EVENT-REPORTs on a new association (PS3.4 J.3.3). */
  port?: number;
}

export interface AdmissionPolicy {
  devices: readonly KnownDevice[];
  /** Admit Calling AE Titles not in `devices` (from any address). */
  allowUnknown: boolean;
  /** Associations open at once; the next one is rejected transiently. */
  maxAssociations: number;
}

export type Admission =
  | { admitted: true; device: KnownDevice | undefined; release: () => void }
  | {
      admitted: false;
      why: "calling-ae-not-recognized" | "address-not-allowed" | "too-many-associations";
      result: number;
      source: number;
      reason: number;
    };

export interface Admitter {
  admit(callingAeTitle: string, remoteAddress: string): Admission;
  /** Associations admitted and not yet released. */
  readonly open: number;
}

/** An IPv4 peer on a dual-stack socket reads as ::ffff:a.b.c.d; compare it as IPv4. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** Throws on a host entry that is neither an address nor a CIDR block (config is validated once). */
function addressList(hosts: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of hosts) {
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    if (family === 0 || extra !== undefined) throw new Error(`not an IP address or CIDR block: ${entry}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else {
      const bits = Number(prefix);
      if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128))
        throw new Error(`bad CIDR prefix: ${entry}`);
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

export function createAdmitter(policy: AdmissionPolicy): Admitter {
  const devices = policy.devices.map((device) => ({
    device,
    aeTitle: device.aeTitle.trim(),
    addresses: device.hosts ? addressList(device.hosts) : undefined,
  }));
  let open = 0;

  const refuse = (why: "calling-ae-not-recognized" | "address-not-allowed"): Admission => ({
    admitted: false,
    why,
    // PS3.8 9.3.4: rejected-permanent, service-user, calling-AE-title-not-recognized. A known AE from
    // an address it may not use gets the same answer: we do not tell a stranger which titles exist.
    result: ASSOCIATE_REJECT.resultPermanent,
    source: ASSOCIATE_REJECT.sourceServiceUser,
    reason: ASSOCIATE_REJECT.reasonCallingAeNotRecognized,
  });

  return {
    get open() {
      return open;
    },
    admit(callingAeTitle, remoteAddress) {
      const title = callingAeTitle.trim();
      const address = normalizeAddress(remoteAddress);
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      const sameTitle = devices.filter((entry) => entry.aeTitle === title);
      let device: KnownDevice | undefined;
      if (sameTitle.length > 0) {
        const match = sameTitle.find(
          (entry) => !entry.addresses || (isIP(address) !== 0 && entry.addresses.check(address, family)),
        );
        if (!match) return refuse("address-not-allowed");
        device = match.device;
      } else if (!policy.allowUnknown) {
        return refuse("calling-ae-not-recognized");
      }
      if (open >= policy.maxAssociations) {
        // PS3.8 9.3.4: rejected-transient, service-provider (presentation), local-limit-exceeded:
        // the modality may retry later.
        return {
          admitted: false,
          why: "too-many-associations",
          result: ASSOCIATE_REJECT.resultTransient,
          source: ASSOCIATE_REJECT.sourceServiceProviderPresentation,
          reason: ASSOCIATE_REJECT.reasonLocalLimitExceeded,
        };
      }
      open += 1;
      let released = false;
      return {
        admitted: true,
        device,
        release() {
          if (released) return;
          released = true;
          open -= 1;
        },
      };
    },
  };
}

/** The township default: an empty device list admits any Calling AE; a non-empty one enforces it. */
export function defaultAllowUnknown(devices: readonly KnownDevice[]): boolean {
  return devices.length === 0;
}

import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadProfiles, parseProfile } from "./profile-loader.ts";
import { TEXT_PROTOCOL } from "./test-support.ts";

const PROTOCOLS = [TEXT_PROTOCOL];

function profile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "test-cart",
    generic: false,
    vendor: "Acme",
    model: "ECG-1",
    match: { usb: [{ vendorId: "0403", productId: "6001" }] },
    line: { baudRate: 9600 },
    protocol: "text",
    ...overrides,
  };
}

test("a valid profile gets its line and protocol defaults filled in, USB ids in lower case", () => {
  const result = parseProfile(
    JSON.stringify(profile({ match: { usb: [{ vendorId: "10C4", productId: "EA60" }] } })),
    "builtin",
    PROTOCOLS,
  );
  assert.ok("profile" in result, JSON.stringify(result));
  assert.deepEqual(result.profile.line, {
    baudRate: 9600,
    dataBits: 8,
    parity: "none",
    stopBits: 1,
    flowControl: "none",
  });
  assert.deepEqual(result.profile.protocolSettings, { samplingFrequencyHz: 500 });
  assert.deepEqual(result.profile.match.usb, [{ vendorId: "10c4", productId: "ea60" }]);
  assert.equal(result.profile.origin, "builtin");
});

test("every problem in a profile is named by its field", () => {
  const result = parseProfile(
    JSON.stringify(
      profile({
        line: { baudRate: "9600", parity: "maybe" },
        match: { usb: [{ vendorId: "403", productId: "6001" }] },
        priority: "soon",
        colour: "red",
      }),
    ),
    "x.json",
    PROTOCOLS,
  );
  assert.ok("problems" in result);
  const text = result.problems.join("\n");
  for (const field of [
    "line.baudRate:",
    "line.parity:",
    "match.usb.0.vendorId:",
    "priority:",
    "colour: unknown key",
  ]) {
    assert.ok(text.includes(field), `expected a problem naming ${field} in:\n${text}`);
  }
});

test("an unknown protocol, or settings its schema refuses, are named", () => {
  const unknown = parseProfile(JSON.stringify(profile({ protocol: "morse" })), "x", PROTOCOLS);
  assert.ok("problems" in unknown);
  assert.match(unknown.problems[0]!, /^protocol: unknown protocol "morse" \(known: text\)/);

  const bad = parseProfile(
    JSON.stringify(profile({ protocolSettings: { samplingFrequencyHz: 0, sync: 1 } })),
    "x",
    PROTOCOLS,
  );
  assert.ok("problems" in bad);
  assert.ok(
    bad.problems.some((p) => p.startsWith("protocolSettings.samplingFrequencyHz: must be >= 1 (got 0)")),
  );
  assert.ok(bad.problems.includes("protocolSettings.sync: unknown key"));

  const missing = parseProfile(JSON.stringify({ ...profile(), line: undefined }), "x", PROTOCOLS);
  assert.ok("problems" in missing);
  assert.ok(missing.problems.includes("line: is required"));
  assert.deepEqual(parseProfile("{", "x", PROTOCOLS), { problems: [parseProblem("{")] });
});

function parseProblem(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  return "";
}

test("a site's profiles directory adds profiles and replaces a shipped one of the same id", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-profiles-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const builtin = join(dir, "builtin");
  const site = join(dir, "site");
  await mkdir(builtin);
  await mkdir(site);
  await writeFile(join(builtin, "a.json"), JSON.stringify(profile({ id: "cart-a" })));
  await writeFile(join(builtin, "b.json"), JSON.stringify(profile({ id: "cart-b" })));
  await writeFile(
    join(site, "a-faster.json"),
    JSON.stringify(profile({ id: "cart-a", line: { baudRate: 115200 } })),
  );
  await writeFile(join(site, "c.json"), JSON.stringify(profile({ id: "cart-c" })));
  await writeFile(join(site, "notes.txt"), "not a profile");

  const loaded = loadProfiles({ builtinDir: builtin, customDir: site, protocols: PROTOCOLS });
  assert.deepEqual(loaded.problems, []);
  const byId = new Map(loaded.profiles.map((p) => [p.id, p]));
  assert.deepEqual([...byId.keys()].sort(), ["cart-a", "cart-b", "cart-c"]);
  assert.equal(byId.get("cart-a")!.line.baudRate, 115200);
  assert.equal(byId.get("cart-a")!.origin, join(site, "a-faster.json"));
  assert.equal(byId.get("cart-b")!.origin, "builtin");
});

test("problems in a site's directory name the file and field; a missing directory is a problem", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-profiles-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "one.json"), JSON.stringify(profile({ id: "same" })));
  await writeFile(join(dir, "two.json"), JSON.stringify(profile({ id: "same" })));
  await writeFile(join(dir, "bad.json"), JSON.stringify(profile({ id: "Bad Id" })));
  const loaded = loadProfiles({ builtinDir: dir, customDir: dir, protocols: PROTOCOLS });
  assert.ok(
    loaded.problems.some((p) => p.startsWith("bad.json: id: must match pattern")),
    loaded.problems.join("\n"),
  );
  assert.ok(loaded.problems.some((p) => p.startsWith('two.json: id: "same" is used by another file')));

  const missing = loadProfiles({ builtinDir: dir, customDir: join(dir, "nope"), protocols: PROTOCOLS });
  assert.ok(missing.problems.some((p) => p.includes("nope: cannot read the profiles directory (ENOENT)")));
});

test("the shipped profiles are valid against the real protocols; generic ones say so", () => {
  const loaded = loadProfiles();
  assert.deepEqual(loaded.problems, []);
  const ids = loaded.profiles.map((p) => p.id).sort();
  assert.deepEqual(ids, [
    "generic-ecg-stream-12-lead",
    "generic-ecg-stream-8-lead",
    "generic-scp-ecg-usb-serial",
  ]);
  for (const profile of loaded.profiles) {
    assert.equal(profile.generic, true, `${profile.id} is generic`);
    assert.match(profile.description ?? "", /^GENERIC, not a specific model/);
  }
  const scp = loaded.profiles.find((p) => p.protocol === "scp-ecg")!;
  const chips = scp.match.usb!.map((u) => `${u.vendorId}:${u.productId}`);
  for (const chip of ["0403:6001", "067b:2303", "1a86:7523", "10c4:ea60"])
    assert.ok(chips.includes(chip), chip);
  assert.equal(scp.protocolSettings.maxRecordBytes, 16 * 1024 * 1024, "defaults filled in");
});

test("stream settings the frame stream cannot work with are refused naming the field", () => {
  const result = parseProfile(
    JSON.stringify({
      id: "bad-module",
      generic: false,
      vendor: "Acme",
      model: "M",
      match: {},
      line: { baudRate: 115200 },
      protocol: "ecg-stream",
      protocolSettings: { recordSeconds: 2, minRecordSeconds: 5 },
    }),
    "x",
  );
  assert.ok("problems" in result);
  assert.match(result.problems[0]!, /^protocolSettings\.minRecordSeconds: 5 s is longer than recordSeconds/);
  const schema = parseProfile(
    JSON.stringify({
      id: "bad-module",
      generic: false,
      vendor: "Acme",
      model: "M",
      match: {},
      line: { baudRate: 115200 },
      protocol: "ecg-stream",
      protocolSettings: { sampleBytes: 4 },
    }),
    "x",
  );
  assert.ok("problems" in schema);
  assert.match(
    schema.problems[0]!,
    /^protocolSettings\.sampleBytes: must be equal to one of the allowed values/,
  );
});

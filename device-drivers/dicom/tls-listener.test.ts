/**
 * DICOM over TLS with a throwaway CA made by openssl in the test: echoscu and storescu `+tls`
 * succeed on the TLS port, a peer without a client certificate is refused when one is required,
 * and TLS below 1.2 is refused.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect } from "node:tls";
import { promisify } from "node:util";
import { silentLogger } from "../../common/logger.ts";
import { writeStudy } from "../../test/fixtures/make-dicom.ts";
import { createDicomService, type DicomService } from "../index.ts";
import { makeTestSink, removeTestSink, runTool, type TestSink } from "./test-support.ts";

const run = promisify(execFile);
let dir: string;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
async function makePki(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), "dxgate-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=dxgate test CA",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
  );
  await writeFile(at("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const name of ["server", "client"]) {
    await openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.csr`),
    );
    await openssl(
      "x509",
      "-req",
      "-in",
      at(`${name}.csr`),
      "-CA",
      at("ca.pem"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      at(`${name}.pem`),
      ...(name === "server" ? ["-extfile", at("server.ext")] : []),
    );
  }
}

let sink: TestSink;
let open: DicomService;
let mutual: DicomService;
let openTlsPort: number;
let mutualTlsPort: number;

before(async () => {
  await makePki();
  sink = await makeTestSink();
  const tls = {
    port: 0,
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
    ca: join(dir, "ca.pem"),
  };
  open = createDicomService({ host: "127.0.0.1", port: 0, sink, log: silentLogger(), tls });
  mutual = createDicomService({
    host: "127.0.0.1",
    port: 0,
    sink,
    log: silentLogger(),
    tls: { ...tls, requireClientCert: true },
  });
  openTlsPort = (await open.start()).tlsPort ?? 0;
  mutualTlsPort = (await mutual.start()).tlsPort ?? 0;
});

after(async () => {
  await open.stop();
  await mutual.stop();
  await removeTestSink(sink);
  await rm(dir, { recursive: true, force: true });
});

const clientTls = () => [
  "+tls",
  join(dir, "client.key"),
  join(dir, "client.pem"),
  "+cf",
  join(dir, "ca.pem"),
];

test("echoscu +tls verifies our certificate and gets C-ECHO success", async () => {
  const echo = await runTool("echoscu", [...clientTls(), "-aec", "DXGATE", "127.0.0.1", String(openTlsPort)]);
  assert.equal(echo.code, 0, echo.stderr);
});

test("storescu +tls stores over the TLS port when a client certificate is required", async () => {
  const study = await writeStudy(join(sink.dir, "tls"), { instances: 2 });
  const store = await runTool("storescu", [
    ...clientTls(),
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(mutualTlsPort),
    ...study.files.map((file) => file.path),
  ]);
  assert.equal(store.code, 0, store.stderr);
  for (const file of study.files) assert.ok(sink.storedPaths.has(file.sopInstanceUid));
});

test("without a client certificate the mutual-TLS port refuses the handshake", async () => {
  const echo = await runTool("echoscu", [
    "+tla",
    "+cf",
    join(dir, "ca.pem"),
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(mutualTlsPort),
  ]);
  assert.notEqual(echo.code, 0);
  // …while the same anonymous client is welcome where no client certificate is required.
  const welcome = await runTool("echoscu", [
    "+tla",
    "+cf",
    join(dir, "ca.pem"),
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(openTlsPort),
  ]);
  assert.equal(welcome.code, 0, welcome.stderr);
});

test("TLS 1.1 is refused", async () => {
  const outcome = await new Promise<string>((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port: openTlsPort,
      minVersion: "TLSv1",
      maxVersion: "TLSv1.1",
      rejectUnauthorized: false,
    });
    socket.on("secureConnect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error) => resolve(error.message));
  });
  assert.notEqual(outcome, "connected");
});

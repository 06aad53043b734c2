/**
 * A real aedes broker on a loopback port, for tests. `kill()` drops every connection at once and
 * forgets all state (like a crashed in-memory broker); `startBroker(port)` can bring one back on the
 * same port.
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { Aedes } from "aedes";

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  readonly aedes: Aedes;
  /** Crash: destroy every socket, stop listening, close the broker. */
  kill(): Promise<void>;
  /** Destroy the socket of one MQTT client, as a cut cable would. */
  dropClient(clientId: string): boolean;
}

export interface BrokerOptions {
  /** Decide per connect whether a client is let in (refused ones get CONNACK "not authorized"). */
  admit?: (clientId: string) => boolean;
  /**
   * Refuse a publish to these topics as a broker's ACL does: MQTT 3.1.1 has no negative PUBACK, so
   * aedes closes the publisher's connection (like a county broker that predates a topic).
   */
  refusePublish?: (topic: string) => boolean;
  /** Listen with TLS (url mqtts://); `ca` + `requestCert` ask for and verify a client certificate. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean };
  /** Only this username and password get in (others: CONNACK "bad user name or password"). */
  credentials?: { username: string; password: string };
}

export async function startBroker(port = 0, options: BrokerOptions = {}): Promise<TestBroker> {
  const { admit, refusePublish, tls, credentials } = options;
  const aedes = await Aedes.createBroker({
    ...(admit || credentials
      ? {
          authenticate: (client, username, password, done) => {
            if (
              credentials &&
              (username !== credentials.username || password?.toString() !== credentials.password)
            ) {
              const error = Object.assign(new Error("bad user name or password"), { returnCode: 4 });
              done(error as Parameters<typeof done>[0], false);
              return;
            }
            done(null, admit ? admit(client.id) : true);
          },
        }
      : {}),
    ...(refusePublish
      ? {
          authorizePublish: (_client, packet, done) =>
            done(refusePublish(packet.topic) ? new Error("topic refused") : null),
        }
      : {}),
  });
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  };
  const server: Server = tls
    ? createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca ? { ca: tls.ca } : {}),
          requestCert: tls.requestCert ?? false,
          rejectUnauthorized: tls.requestCert ?? false,
        },
        onSocket,
      )
    : createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("broker has no TCP address");
  return {
    port: address.port,
    url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${address.port}`,
    aedes,
    async kill() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
    dropClient(clientId: string) {
      const client = (aedes as unknown as { clients: Record<string, { conn: Socket }> }).clients[clientId];
      if (!client) return false;
      client.conn.destroy();
      return true;
    },
  };
}

/** A loopback port nothing listens on (for "broker not running yet"). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

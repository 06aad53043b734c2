/**
 * Bearer tokens: 32 random bytes, hex, kept in memory only (a restart logs everyone out, which is
 * acceptable for a reading room and keeps no credential on disk), valid for 12 hours.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { rcError } from "../errors.ts";

export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

export interface Session {
  username: string;
  expiresAt: number;
}

export class TokenStore {
  readonly #sessions = new Map<string, Session>();
  readonly #lifetimeMs: number;

  constructor(lifetimeMs = TOKEN_LIFETIME_MS) {
    this.#lifetimeMs = lifetimeMs;
  }

  issue(username: string, now = Date.now()): { token: string; expiresAt: string } {
    this.#purge(now);
    const token = randomBytes(32).toString("hex");
    const expiresAt = now + this.#lifetimeMs;
    this.#sessions.set(token, { username, expiresAt });
    return { token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The session of a request's `Authorization: Bearer` token; a 401 error otherwise. */
  authenticate(req: IncomingMessage, now = Date.now()): Session {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+([0-9a-f]{64})\s*$/i.exec(header) : null;
    if (!match) throw rcError("AUTH_REQUIRED", "log in first: Authorization: Bearer <token>");
    const session = this.#sessions.get(match[1]!.toLowerCase());
    if (!session || session.expiresAt <= now) {
      if (session) this.#sessions.delete(match[1]!.toLowerCase());
      throw rcError("AUTH_REQUIRED", "the token is unknown or expired; log in again");
    }
    return session;
  }

  #purge(now: number): void {
    for (const [token, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(token);
  }
}

/**
 * Diagnostician accounts in `users.json` (lowdb over DurableJsonFile: every change is fsynced
 * before it is reported done). Only scrypt hashes are stored.
 */
import { join } from "node:path";
import { Low } from "lowdb";
import { DurableJsonFile } from "../../common/durable-json-store.ts";
import { rcError } from "../errors.ts";
import { dummyHash, hashPassword, type PasswordHash, verifyPassword } from "./password.ts";

export interface UserRecord {
  username: string;
  password: PasswordHash;
  createdAt: string;
  updatedAt: string;
}

interface UsersFile {
  users: UserRecord[];
}

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
export const DEMO_USER = { username: "demo", password: "demo" } as const;

export class UserStore {
  readonly #db: Low<UsersFile>;

  private constructor(db: Low<UsersFile>) {
    this.#db = db;
  }

  static async open(dataDir: string): Promise<UserStore> {
    const db = new Low<UsersFile>(new DurableJsonFile<UsersFile>(join(dataDir, "users.json")), { users: [] });
    await db.read();
    return new UserStore(db);
  }

  list(): string[] {
    return this.#db.data.users.map((u) => u.username);
  }

  /** Create the user or change its password. */
  async setPassword(username: string, password: string): Promise<"created" | "updated"> {
    if (!USERNAME_PATTERN.test(username)) {
      throw rcError("USER_INVALID", "username must be 1-64 letters, digits, or _ . @ -", {
        field: "username",
      });
    }
    if (password.length === 0 || password.length > 1024) {
      throw rcError("USER_INVALID", "password must be 1-1024 characters", { field: "password" });
    }
    const hash = await hashPassword(password);
    const now = new Date().toISOString();
    const existing = this.#db.data.users.find((u) => u.username === username);
    if (existing) {
      existing.password = hash;
      existing.updatedAt = now;
    } else {
      this.#db.data.users.push({ username, password: hash, createdAt: now, updatedAt: now });
    }
    await this.#db.write();
    return existing ? "updated" : "created";
  }

  /** The username when the password is right; undefined otherwise (same cost either way). */
  async verify(username: string, password: string): Promise<string | undefined> {
    const user = this.#db.data.users.find((u) => u.username === username);
    const ok = await verifyPassword(password, user?.password ?? (await dummyHash()));
    return ok && user ? user.username : undefined;
  }

  /** Users whose password is still the demo password (a real deployment refuses to start with any). */
  async usersWithDemoPassword(): Promise<string[]> {
    const checks = await Promise.all(
      this.#db.data.users.map(async (u) =>
        (await verifyPassword(DEMO_USER.password, u.password)) ? u.username : null,
      ),
    );
    return checks.filter((name): name is string => name !== null);
  }

  async ensureDemoUser(): Promise<boolean> {
    const exists = this.#db.data.users.some((u) => u.username === DEMO_USER.username);
    if (exists && (await this.verify(DEMO_USER.username, DEMO_USER.password)) !== undefined) return false;
    await this.setPassword(DEMO_USER.username, DEMO_USER.password);
    return true;
  }
}

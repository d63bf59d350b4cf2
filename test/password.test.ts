import { createHmac, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { COMMON_PASSWORDS } from "../workers/auth/common-passwords.ts";
import {
  PASSWORD_MAX_LENGTH,
  SCRYPT_MAX_COST,
  SCRYPT_PARAMS,
  checkPasswordPolicy,
  hashPassword,
  verifyPassword,
} from "../workers/auth/password.ts";

const PEPPER = "test-password-pepper";
const GOOD = "plum tractor velvet";

/** The documented construction, written out independently: scrypt(HMAC-SHA256(pepper, NFKC(password))). */
function storedWith(password: string, pepper: string, salt: Buffer, N: number, r: number, p: number): string {
  const input = createHmac("sha256", pepper).update(password.normalize("NFKC")).digest();
  const key = scryptSync(input, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

describe("password policy", () => {
  it("accepts 12 or more characters of any composition: no digit, symbol or capital needed", () => {
    expect(checkPasswordPolicy(GOOD)).toBeNull();
    expect(checkPasswordPolicy("abcdefghijkm")).toBeNull();
  });

  it("refuses fewer than 12 and more than 256 characters, with a message saying so", () => {
    expect(checkPasswordPolicy("plum tracto")).toBe("Use at least 12 characters");
    expect(checkPasswordPolicy("x".repeat(PASSWORD_MAX_LENGTH - 4) + "plum")).toBeNull();
    expect(checkPasswordPolicy("x".repeat(PASSWORD_MAX_LENGTH) + "y")).toBe("Use at most 256 characters");
  });

  it("counts code points, not UTF-16 units: 11 emoji are too short, 12 are enough", () => {
    expect(checkPasswordPolicy("🔑".repeat(11))).toBe("Use at least 12 characters");
    expect(checkPasswordPolicy("🔑🐙🌵🎻🚲🧀🦉🍋🛶🎲🪁🧭")).toBeNull();
  });

  it("refuses well-known long passwords from the shipped list, whatever their case or width", () => {
    for (const common of ["password1234", "qwertyuiop123", "123456789012", "PassWord1234", "ｐａｓｓｗｏｒｄ１２３４"]) {
      expect(checkPasswordPolicy(common)).toMatch(/too common/);
    }
  });

  it("ships a list of tens of thousands of entries, all long enough to matter and normalised", () => {
    const entries = COMMON_PASSWORDS.trim().split("\n");
    expect(entries.length).toBeGreaterThan(40_000);
    expect(entries.every((e) => [...e].length >= 12 && e === e.normalize("NFKC").toLowerCase())).toBe(true);
  });

  it("refuses the user's own email address, its local part or name, ignoring case and spaces", () => {
    const context = { email: "Ana.Lopez.Garcia@example.com", name: "Ana Lopez Garcia" };
    for (const guess of ["ana.lopez.garcia@example.com", "ANA.LOPEZ.GARCIA", " ana lopez garcia "]) {
      expect(checkPasswordPolicy(guess, context)).toBe("Do not use your email address or your name as the password");
    }
    expect(checkPasswordPolicy(GOOD, context)).toBeNull();
  });
});

describe("scrypt parameters (production-safe, pinned)", () => {
  it("are N=2^14, r=8, p=5 with a 16-byte salt and a 32-byte key", () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 16384, r: 8, p: 5, keyLength: 32, saltLength: 16 });
  });

  it("stay within Cloudflare's scrypt cost cap N·r·p ≤ 2^20", () => {
    const { N, r, p } = SCRYPT_PARAMS;
    expect(SCRYPT_MAX_COST).toBe(2 ** 20);
    expect(N * r * p).toBeLessThanOrEqual(2 ** 20);
  });

  it("need 128·N·r bytes of memory, well below 64 MiB of a 128 MB isolate", () => {
    const { N, r } = SCRYPT_PARAMS;
    expect(128 * N * r).toBe(16 * 1024 * 1024);
    expect(128 * N * r).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("password hashing", () => {
  it("stores scrypt$N$r$p$salt$hash with a fresh 16-byte salt and a 32-byte hash", async () => {
    const [a, b] = await Promise.all([hashPassword(GOOD, PEPPER), hashPassword(GOOD, PEPPER)]);
    const [scheme, N, r, p, salt, hash] = a.split("$");
    expect([scheme, N, r, p]).toEqual(["scrypt", "16384", "8", "5"]);
    expect(Buffer.from(salt!, "base64")).toHaveLength(16);
    expect(Buffer.from(hash!, "base64")).toHaveLength(32);
    expect(b).not.toBe(a);
  });

  it("computes scrypt(HMAC-SHA256(pepper, password)) exactly as Node's OpenSSL does (known answer)", async () => {
    // Expected value computed with Node 22's node:crypto, outside workerd.
    const salt = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
    const stored = "scrypt$16384$8$5$AAECAwQFBgcICQoLDA0ODw==$ZN376TgFyMvHH6H0LN/JFmDA6YkRKS8vVNZCqDwzFWk=";
    expect(storedWith("correct horse battery staple", "known-answer-pepper-0001", salt, 16384, 8, 5)).toBe(stored);
    expect(await verifyPassword("correct horse battery staple", stored, "known-answer-pepper-0001")).toEqual({
      ok: true,
      needsRehash: false,
    });
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword(GOOD, PEPPER);
    expect(await verifyPassword(GOOD, stored, PEPPER)).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(GOOD + " ", stored, PEPPER)).toEqual({ ok: false, needsRehash: false });
  });

  it("keeps the pepper out of the stored hash: without it, or with another, nothing verifies", async () => {
    const stored = await hashPassword(GOOD, PEPPER);
    expect(await verifyPassword(GOOD, stored, "another-pepper-of-16+")).toMatchObject({ ok: false });
    const salt = Buffer.from(stored.split("$")[4]!, "base64");
    const unpeppered = scryptSync(GOOD, salt, 32, { N: 16384, r: 8, p: 5, maxmem: 64 * 1024 * 1024 }).toString("base64");
    expect(stored.endsWith(unpeppered)).toBe(false);
  });

  it("treats composed and decomposed accents as the same password (NFKC)", async () => {
    const stored = await hashPassword("crème brûlée au café", PEPPER);
    const decomposed = "crème brûlée au café".normalize("NFD");
    expect(decomposed).not.toBe("crème brûlée au café");
    expect(await verifyPassword(decomposed, stored, PEPPER)).toMatchObject({ ok: true });
  });

  it("asks for a rehash after a correct password whose hash has older parameters", async () => {
    const old = storedWith(GOOD, PEPPER, Buffer.alloc(16, 7), 8192, 8, 1);
    expect(await verifyPassword(GOOD, old, PEPPER)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("wrong password!", old, PEPPER)).toEqual({ ok: false, needsRehash: false });
  });

  it("refuses malformed stored values and parameters production would reject, without throwing", async () => {
    const salt = "AAECAwQFBgcICQoLDA0ODw==";
    const key = Buffer.alloc(32).toString("base64");
    for (const stored of [
      "",
      "not a hash",
      `bcrypt$16384$8$5$${salt}$${key}`,
      `scrypt$16384$8$5$${salt}$`,
      `scrypt$16384$8$5$${salt}$${key}$extra`,
      `scrypt$10000$8$5$${salt}$${key}`, // N not a power of two
      `scrypt$1048576$8$1$${salt}$${key}`, // N·r·p above 2^20
      `scrypt$65536$8$1$${salt}$${key}`, // 64 MiB of memory
      `scrypt$16384$8$5$AAECAw==$${key}`, // 4-byte salt
      `scrypt$16384$8$5$${salt}$AAECAw==`, // 4-byte hash
      `scrypt$16384$0$5$${salt}$${key}`,
      `scrypt$16384$8$5$${salt}$!!!!`,
    ]) {
      expect(await verifyPassword(GOOD, stored, PEPPER), stored).toEqual({ ok: false, needsRehash: false });
    }
  });

  it("fails closed when the pepper is missing or short", async () => {
    await expect(hashPassword(GOOD, "")).rejects.toThrow(/PASSWORD_PEPPER/);
    await expect(hashPassword(GOOD, "short")).rejects.toThrow(/PASSWORD_PEPPER/);
  });

  it("hashes in well under a second of workerd time", async () => {
    const started = performance.now();
    await hashPassword(GOOD, PEPPER);
    // Workers clocks advance only at I/O: one round trip to D1-less I/O (a timer) lets it move on.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const elapsed = performance.now() - started;
    console.log(`one scrypt hash (N=2^14, r=8, p=5) took ${elapsed.toFixed(0)} ms in workerd`);
    expect(elapsed).toBeLessThan(1000);
  });
});

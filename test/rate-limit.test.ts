import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hit, purgeRateLimits, reset } from "../workers/rate-limit.ts";

const LIMIT = { limit: 3, windowSeconds: 900 };
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const key = () => `test:${crypto.randomUUID()}`;

async function hits(k: string, times: number, now: number) {
  const verdicts = [];
  for (let i = 0; i < times; i++) verdicts.push(await hit(env.DB, k, LIMIT, now));
  return verdicts;
}

describe("fixed-window rate limit", () => {
  it("allows `limit` attempts in a window, then refuses with the seconds left until it ends", async () => {
    const k = key();
    expect(await hits(k, 3, T0)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(await hit(env.DB, k, LIMIT, T0 + 100_500)).toEqual({ allowed: false, retryAfterSeconds: 800 });
  });

  it("starts a fresh window once the old one is over", async () => {
    const k = key();
    await hits(k, 4, T0);
    expect(await hit(env.DB, k, LIMIT, T0 + 899_999)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(await hits(k, 3, T0 + 900_000)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(await hit(env.DB, k, LIMIT, T0 + 900_001)).toMatchObject({ allowed: false });
  });

  it("cannot be stretched into a long lock-out: attempts while blocked do not extend the window", async () => {
    const k = key();
    for (let t = T0; t < T0 + 900_000; t += 30_000) await hit(env.DB, k, LIMIT, t);
    expect(await hit(env.DB, k, LIMIT, T0 + 900_000)).toEqual({ allowed: true });
  });

  it("counts each key on its own", async () => {
    const [a, b] = [key(), key()];
    await hits(a, 4, T0);
    expect(await hit(env.DB, b, LIMIT, T0)).toEqual({ allowed: true });
  });

  it("forgets a key on reset", async () => {
    const k = key();
    await hits(k, 4, T0);
    await reset(env.DB, k);
    expect(await hit(env.DB, k, LIMIT, T0 + 1000)).toEqual({ allowed: true });
  });

  it("admits exactly `limit` of many simultaneous attempts (one atomic statement per attempt)", async () => {
    const k = key();
    const verdicts = await Promise.all(Array.from({ length: 12 }, () => hit(env.DB, k, LIMIT, T0)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(3);
  });

  it("purges counters of windows that started before a given time, keeping current ones", async () => {
    const [old, current] = [key(), key()];
    await hit(env.DB, old, LIMIT, T0 - 3600_000);
    await hit(env.DB, current, LIMIT, T0);
    await purgeRateLimits(env.DB, T0 - 900_000);
    const { results } = await env.DB.prepare(`SELECT key FROM rate_limits WHERE key IN (?1, ?2)`).bind(old, current).all<{ key: string }>();
    expect(results.map((r) => r.key)).toEqual([current]);
  });
});

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, migrate, versionOf, versionTable } from "../durable-objects/conversation-schema.ts";

/**
 * Every table and index as SQLite records it, the statement text normalised: ALTER TABLE writes
 * its column into the stored CREATE TABLE, so the same schema reached by steps reads the same.
 */
function schemaOf(sql: SqlStorage) {
  return sql
    .exec<{ type: string; name: string; sql: string | null }>(`SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name`)
    .toArray()
    .map(({ type, name, sql: text }) => ({
      type,
      name,
      sql:
        text
          ?.replace(/\s+/g, " ")
          .replace(/ IF NOT EXISTS/g, "")
          .replace(/\s*,\s*/g, ", ")
          .replace(/\(\s+/g, "(")
          .replace(/\s+\)/g, ")") ?? null,
    }));
}

/** A conversation object of its own, its storage emptied and rebuilt by `build`. */
function rebuilt(name: string, build: (storage: DurableObjectStorage) => void) {
  const stub = env.CONVERSATION.get(env.CONVERSATION.idFromName(`schema-test:${name}`));
  return runInDurableObject(stub, async (_instance, state) => {
    await state.storage.deleteAll();
    build(state.storage);
    return { schema: schemaOf(state.storage.sql), version: versionOf(state.storage.sql) };
  });
}

describe("a conversation object's schema", () => {
  it("is the same for a new object as for one migrated step by step from the first version", async () => {
    const fresh = await rebuilt("fresh", migrate);
    const stepped = await rebuilt("stepped", (storage) => {
      storage.sql.exec(versionTable(0));
      migrate(storage);
    });
    expect(fresh.schema.map((o) => o.name)).toEqual(expect.arrayContaining(["conversation", "messages", "receipts", "outbox", "notes", "messages_client_key"]));
    expect(fresh.schema).toEqual(stepped.schema);
    expect(fresh.version).toBe(MIGRATIONS.length);
    expect(stepped.version).toBe(MIGRATIONS.length);
  });

  it("brings an object created before versioning to the same schema", async () => {
    const fresh = await rebuilt("fresh-2", migrate);
    const unversioned = await rebuilt("unversioned", (storage) => {
      storage.sql.exec(MIGRATIONS[0]!);
      migrate(storage);
    });
    expect(unversioned.schema).toEqual(fresh.schema);
    expect(unversioned.version).toBe(MIGRATIONS.length);
  });

  it("changes nothing when it is already current", async () => {
    const twice = await rebuilt("twice", (storage) => {
      migrate(storage);
      migrate(storage);
    });
    expect(twice.schema).toEqual((await rebuilt("once", migrate)).schema);
  });

  it("is left as it was when a step fails part-way, so the next start tries the same step again", async () => {
    const failed = await rebuilt("failing-step", (storage) => {
      storage.sql.exec(`${MIGRATIONS[0]} ${versionTable(1)}`);
      // The second step's ALTER TABLEs succeed before its CREATE TABLE outbox meets this one.
      storage.sql.exec(`CREATE TABLE outbox (stray TEXT)`);
      expect(() => migrate(storage)).toThrow(/outbox/);
    });
    const conversation = failed.schema.find((o) => o.name === "conversation");
    expect(conversation?.sql).not.toContain("product");
    expect(failed.version).toBe(1);
  });
});

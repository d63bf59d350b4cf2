/**
 * @module
 * Re-wraps every workspace data key of a deployed Worker under its active vault master key, by calling
 * `POST /api/operator/vault/rotate` (workers/vault/rotate.ts) until the scan is complete. Safe to stop
 * and run again: progress is kept in D1, and nothing stops working while it runs.
 *
 * A rotation, start to finish (ids are examples):
 *  1. Generate the new key: `openssl rand -base64 32`.
 *  2. Configure both keys and make the new one active, in one step (`wrangler secret bulk` sets both
 *     secrets in one deployment). From a JSON file kept outside the repository and deleted afterwards:
 *       {"VAULT_MASTER_KEYS": "{\"k2026\":\"<old>\",\"k2027\":\"<new>\"}", "VAULT_ACTIVE_KEY_ID": "k2027"}
 *     run `npx wrangler secret bulk secrets.json`. New workspace keys are wrapped by k2027; existing ones
 *     still unwrap with k2026.
 *  3. `OPERATOR_KEY=… node scripts/rotate-master-key.ts --url https://<worker-host>` (the operator key
 *     is read from the environment, so it stays out of the process list and shell history).
 *  4. Once it reports `remaining 0`, set VAULT_MASTER_KEYS to the new key alone. Removing the old key
 *     is what makes D1 backups from before the rotation, and workspaces crypto-shredded since, unreadable.
 *
 * Exit status: 0 when every key is under the active master key; 1 otherwise (the report says why).
 */
import { parseArgs } from "node:util";

type Report = { rewrapped: number; failed: string[]; orphaned: number; remaining: number; next: string | null };

const { values: flags } = parseArgs({
  options: { url: { type: "string" }, "batch-size": { type: "string", default: "100" } },
});
const operatorKey = process.env.OPERATOR_KEY;
const batchSize = Number(flags["batch-size"]);
if (!flags.url || !operatorKey || !Number.isInteger(batchSize)) {
  console.error("usage: OPERATOR_KEY=<key> node scripts/rotate-master-key.ts --url https://<worker-host> [--batch-size 1-100]");
  process.exit(2);
}
const endpoint = new URL("/api/operator/vault/rotate", flags.url);

let after: string | undefined;
let total = 0;
for (;;) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { authorization: `Bearer ${operatorKey}`, "content-type": "application/json" },
    body: JSON.stringify({ batchSize, after }),
  });
  if (!response.ok) {
    console.error(`rotate: ${endpoint} answered ${response.status}: ${await response.text()}`);
    process.exit(1);
  }
  const report = (await response.json()) as Report;
  total += report.rewrapped;
  console.log(`re-wrapped ${report.rewrapped} (${total} in all); ${report.remaining} not yet under the active key`);
  if (report.failed.length > 0) console.error(`wrapped keys that failed authentication: ${report.failed.join(", ")}`);
  if (report.next === null) {
    if (report.orphaned > 0) console.error(`${report.orphaned} keys are wrapped by a master key that is not configured`);
    process.exit(report.remaining === 0 ? 0 : 1);
  }
  after = report.next;
}

/**
 * @module
 * A fresh local stack for the browser tests: the built inbox, migrations applied to a new state
 * directory, the Graph API simulator and `wrangler dev` on free ports (scripts/local-stack.ts), plus
 * the simulator's ways in: signed webhooks, the Graph control API and the dev mailbox.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { encodeBody, envelope, signBody, type Product, type WebhookItem } from "../../scripts/meta-simulator/payloads.ts";
import {
  applyMigrations,
  freePort,
  graphSimulatorArgs,
  localVars,
  root,
  signalGroup,
  startChild,
  waitUntilUp,
  devServerArgs,
} from "../../scripts/local-stack.ts";
import { runtimeFiles } from "../../scripts/open-files.ts";

export type Stack = Awaited<ReturnType<typeof startStack>>;

export async function startStack() {
  if (!existsSync(path.join(root, "web", "dist", "index.html"))) throw new Error("web/dist is missing: run `npm run web:build` first");
  const state = mkdtempSync(path.join(tmpdir(), "wechatting-browser-"));
  const [port, graphPort] = [await freePort(), await freePort()];
  const origin = `http://127.0.0.1:${port}`;
  const graphOrigin = `http://127.0.0.1:${graphPort}`;
  const vars = localVars(graphOrigin, { VAULT_MASTER_KEYS: JSON.stringify({ t1: randomBytes(32).toString("base64") }), VAULT_ACTIVE_KEY_ID: "t1" });
  const children: ChildProcess[] = [];
  // The runtime's last words, kept even when quiet, so a failure can say why the Worker stopped answering.
  const devOutput: string[] = [];
  let dev!: ChildProcess;
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            signalGroup(child, "SIGINT");
            setTimeout(() => signalGroup(child, "SIGKILL"), 5000).unref();
          }),
      ),
    );
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await applyMigrations(state);
    // BROWSER_TEST_LOGS=1 shows the Worker's and the simulator's output (quiet otherwise).
    const stdio = process.env.BROWSER_TEST_LOGS ? "inherit" : "ignore";
    children.push(startChild(graphSimulatorArgs(graphPort, vars, `${origin}/webhooks/meta`), stdio));
    dev = startChild(devServerArgs(port, vars, state), stdio === "inherit" ? stdio : "pipe");
    let partial = "";
    const keep = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop()!;
      devOutput.push(...lines.map((line) => line.replace(/\x1b\[[0-9;]*m/g, "")).filter((line) => line.trim()));
      devOutput.splice(0, devOutput.length - 30);
    };
    dev.stdout?.on("data", keep);
    dev.stderr?.on("data", keep);
    // Every later step would fail with "connection refused"; say once, here, why the runtime went.
    dev.once("exit", (code, signal) => {
      if (stopping) return;
      const output = process.env.BROWSER_TEST_LOGS ? "shown above" : `last lines:\n${[...devOutput, partial].join("\n")}`;
      process.stderr.write(`wrangler dev exited unexpectedly (${signal ?? `exit code ${code}`}); its output ${output}\n`);
    });
    children.push(dev);
    await waitUntilUp(origin, dev, 120_000);
  } catch (error) {
    await stop();
    throw error;
  }

  const postSigned = async (body: Uint8Array) => {
    const response = await fetch(`${origin}/webhooks/meta`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": signBody(body, vars.META_APP_SECRET!) },
      body,
    }).catch((error: Error) => {
      const exited = dev.exitCode !== null || dev.signalCode !== null ? ` (wrangler dev exited: ${dev.signalCode ?? dev.exitCode})` : "";
      const output = process.env.BROWSER_TEST_LOGS ? "shown above" : `last lines:\n${devOutput.join("\n")}`;
      throw new Error(`webhook POST failed: ${error.message}${exited}; wrangler dev's output ${output}`, { cause: error });
    });
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
  };
  const files = runtimeFiles(dev.pid!);
  const openapi = (await (await fetch(`${origin}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  return {
    origin,
    stop,
    /** Waits while the runtime is near its open-file limit (see scripts/open-files.ts); returns the wait in ms. */
    roomForFiles: () => files.room(),
    /** Whether the Worker serves a route yet (issue-5 routes land while this suite is written). */
    has: (method: string, route: string) => !!openapi.paths[route]?.[method],
    /** POSTs webhook items exactly as Meta would: compact JSON, signed with the app secret. */
    webhook: (product: Product, items: WebhookItem[]) => postSigned(encodeBody(envelope(product, items))),
    /** POSTs a recorded webhook body byte for byte (test/fixtures/meta). */
    replay: (file: string) => postSigned(readFileSync(file)),
    /** The Graph API simulator's control API (tokens, login codes, faults). */
    async simulator<T>(route: string, body: unknown): Promise<T> {
      const response = await fetch(`${graphOrigin}/__simulator/${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`simulator ${route} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as T;
    },
    /** The newest link of the given path mailed to `to` (the dev mailbox keeps every mail). */
    async mailedLink(to: string, pathname: string): Promise<string> {
      for (let i = 0; i < 50; i++) {
        const { messages } = (await (await fetch(`${origin}/dev/mailbox/messages.json?to=${encodeURIComponent(to)}`)).json()) as { messages: { text: string }[] };
        const link = messages.map((m) => m.text.match(new RegExp(`https?://\\S+${pathname}\\?token=\\S+`))?.[0]).find(Boolean);
        if (link) return link;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no ${pathname} link mailed to ${to}`);
    },
  };
}

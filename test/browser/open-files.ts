/**
 * @module
 * How close the local runtime is to its open-file limit. workerd keeps three files open for every
 * Durable Object it holds in memory (its SQLite database, the WAL and the shared-memory index) and
 * frees them about ten seconds after the object goes idle; an object whose alarm fires opens them
 * again. When `accept()` then finds no descriptor left, workerd dies ("accept: Too many open files")
 * and `wrangler dev` does not come back. Ingesting thousands of new conversations therefore waits
 * while the runtime is near its limit: a machine with a low limit (1,024 is common) is slower, not
 * broken. Linux only (/proc); elsewhere nothing is known and nothing waits.
 */
import { readdirSync, readFileSync } from "node:fs";

export type OpenFiles = { pid: number; open: number; limit: number };

/**
 * The fullest workerd process in the given process group (the `wrangler dev` child's: it runs two,
 * its proxy and the Worker's runtime), or null.
 */
export function runtimeOpenFiles(group: number): OpenFiles | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  let fullest: OpenFiles | null = null;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so split after ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (comm !== "workerd" || pgrp !== group) continue;
      const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/limits`, "utf8"))?.[1] ?? Infinity);
      const files = { pid: Number(entry), open: readdirSync(`/proc/${entry}/fd`).length, limit };
      if (!fullest || files.open / files.limit > fullest.open / fullest.limit) fullest = files;
    } catch {
      // The process ended while we looked.
    }
  }
  return fullest;
}

/**
 * Resolves once the runtime holds fewer than `share` of its file limit, polling every 250 ms;
 * returns how long it waited. Well under half: objects woken by their alarms later come on top.
 */
export async function roomForFiles(group: number, share = 0.4): Promise<number> {
  const started = performance.now();
  for (let files = runtimeOpenFiles(group); files && files.open > files.limit * share; files = runtimeOpenFiles(group)) {
    await new Promise((r) => setTimeout(r, 250));
  }
  return performance.now() - started;
}

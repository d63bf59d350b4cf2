/**
 * @module
 * How close the local runtime is to its open-file limit. workerd keeps three files open for every
 * Durable Object it holds in memory (its SQLite database, the WAL and the shared-memory index) and
 * frees them about ten seconds after the object goes idle; an object whose alarm fires opens them
 * again. When `accept()` then finds no descriptor left, workerd dies ("accept: Too many open files")
 * and `wrangler dev` does not come back. So the large browser test waits while the runtime is near
 * its limit (a machine with a low limit, 1,024 is common, is slower, not broken), and the benchmark
 * refuses to start below what its conversations need. Linux only (/proc); elsewhere nothing is
 * known and nothing waits.
 */
import { readdirSync, readFileSync } from "node:fs";

export type OpenFiles = { pid: number; open: number; limit: number };

/** A process's open-file limit (the soft one, which Node raises to the hard one at start), or null. */
export function openFileLimit(pid: number | "self"): number | null {
  try {
    const limit = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];
    return limit === undefined ? null : limit === "unlimited" ? Infinity : Number(limit);
  } catch {
    return null;
  }
}

/** The workerd processes in the given process group (the `wrangler dev` child's runs two: its proxy and the Worker's runtime). */
function workerdProcesses(group: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries.filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so split after ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      return comm === "workerd" && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === group;
    } catch {
      return false; // it ended while we looked
    }
  }).map(Number);
}

/**
 * Watches the workerd processes of a process group. `fullest()` is the one nearest its limit, or
 * null; the processes are looked up again only while none is known or when one has gone (wrangler
 * dev restarts a crashed runtime), since scanning /proc costs milliseconds and the test asks before
 * every POST.
 */
export function runtimeFiles(group: number) {
  let pids: number[] = [];
  const measure = (): OpenFiles | null => {
    let found: OpenFiles | null = null;
    for (const pid of pids) {
      try {
        const files = { pid, open: readdirSync(`/proc/${pid}/fd`).length, limit: openFileLimit(pid) ?? Infinity };
        if (!found || files.open / files.limit > found.open / found.limit) found = files;
      } catch {
        pids = [];
        return null;
      }
    }
    return found;
  };
  const fullest = (): OpenFiles | null => {
    const found = measure();
    if (found) return found;
    pids = workerdProcesses(group);
    return measure();
  };
  return {
    fullest,
    /**
     * Resolves once the runtime holds fewer than `share` of its file limit, polling every 250 ms;
     * returns how long it slept. Well under half: objects woken by their alarms later come on top.
     */
    async room(share = 0.4): Promise<number> {
      let slept = 0;
      for (let files = fullest(); files && files.open > files.limit * share; files = fullest()) {
        await new Promise((r) => setTimeout(r, 250));
        slept += 250;
      }
      return slept;
    },
  };
}

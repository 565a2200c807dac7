// CPU time of the processes in a measurement (utime + stime from /proc/<pid>/stat), so a row says
// which process was the limit: the orchestrator, the plugin or mongod.
import { readdirSync, readFileSync } from "node:fs";

/** Linux reports times in clock ticks; USER_HZ is 100 on every mainstream build. */
const TICKS_PER_SECOND = 100;

export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The pid of a process whose command line contains every one of `parts` (e.g. our own mongod). */
export function findProcess(parts: string[]): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (parts.every((part) => cmdline.includes(part))) return Number(entry);
  }
  return undefined;
}

export interface CpuMeter {
  /** CPU seconds each process spent since the meter started (undefined when unknown). */
  stop(): Record<string, number | undefined>;
}

export function meterCpu(pids: Record<string, number | undefined>): CpuMeter {
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return {
    stop() {
      const out: Record<string, number | undefined> = {};
      for (const [name, pid] of Object.entries(pids)) {
        const now = cpuSeconds(pid);
        const then = start[name];
        out[name] = now === undefined || then === undefined ? undefined : Math.round((now - then) * 100) / 100;
      }
      return out;
    },
  };
}

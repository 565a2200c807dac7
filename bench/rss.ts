// Peak memory of a child process while a case runs: VmRSS from /proc/<pid>/status every ~50 ms,
// plus VmHWM, whose peak is first reset to the current RSS (clear_refs 5) so it covers this case only.
import { readFileSync, writeFileSync } from "node:fs";

export interface RssReading {
  rssKb: number;
  hwmKb: number;
}

export function readRss(pid: number): RssReading | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "latin1");
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
}

/** Resets the peak (VmHWM) to the current RSS; false where the kernel or permissions refuse. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export interface RssSampler {
  /** Stops sampling; the peak in MB (0 when the process was never seen). */
  stop(): number;
}

/**
 * Samples `pid` until stopped. `fresh` says the process started with this measurement (a peer),
 * so its lifetime VmHWM is this run's peak even without a reset.
 */
export function sampleRss(pid: number, options: { intervalMs?: number; fresh?: boolean } = {}): RssSampler {
  const hwmValid = resetPeak(pid) || options.fresh === true;
  let peakKb = 0;
  const sample = () => {
    const reading = readRss(pid);
    if (!reading) return;
    peakKb = Math.max(peakKb, reading.rssKb, hwmValid ? reading.hwmKb : 0);
  };
  sample();
  const timer = setInterval(sample, options.intervalMs ?? 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peakKb / 1024;
    },
  };
}

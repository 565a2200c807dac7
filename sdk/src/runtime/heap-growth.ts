import { setFlagsFromString } from "node:v8";

/**
 * For processes that allocate fast and keep little: a plugin (one item at a time, spill files,
 * compact records of the files written) and the orchestrator (batches of an import, streams of
 * items, a download's files). V8 sizes its heap for throughput: the old generation may grow to
 * several times its live size before a full GC, so the peak RSS grew with the work's length though
 * nothing held grows. `growthPercent` caps that growth per full GC; each full GC costs CPU, so where
 * throughput is the point the cap is looser:
 * - a plugin, 20% and the young generation kept at its initial size (`fixedYoungGeneration`):
 *   VOC at 1M annotations 108 MB against 134 MB (91 and 106 MB at 10k), for about 20% more CPU;
 * - the orchestrator, 100%: a whole-export ZIP of 300k files took its RSS 77 MB up, against 162 MB
 *   with V8's default. In the bench's 1M case, import, StreamItems and COCO peaked at 290, 280 and
 *   250 MB against 406, 343 and 347 MB, for 13.2, 2.8 and 2.8 CPU s against 11.1, 2.8 and 2.7
 *   (20% held them at 270, 217 and 203 MB but doubled the CPU: 16.8, 5.7 and 6.1 s).
 * V8 reads both flags at each GC, so they apply after start; a value given on node's command line
 * (or, for the first, in NODE_OPTIONS) wins.
 */
export function limitHeapGrowth(options: { growthPercent: number; fixedYoungGeneration: boolean }): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  if (!/heap[-_]growing[-_]percent/.test(given)) {
    setFlagsFromString(`--heap-growing-percent=${options.growthPercent}`);
  }
  if (options.fixedYoungGeneration && !/semi[-_]space/.test(given)) {
    setFlagsFromString("--semi-space-growth-factor=1");
  }
}

import { setFlagsFromString } from "node:v8";

/**
 * For processes that allocate fast and keep little: a plugin (one item at a time, spill files,
 * compact records of the files written) and the orchestrator (batches of an import, streams of
 * items, a download's files). V8 sizes its heap for throughput: the old generation may grow by up
 * to 2x per full GC, so the peak RSS grew with the work's length though nothing held grows.
 * Growing it by 20% per full GC holds it flat:
 * - a plugin, with the young generation also kept at its initial size (`fixedYoungGeneration`):
 *   VOC at 1M annotations 108 MB against 134 MB (91 and 106 MB at 10k), for about 20% more CPU;
 * - the orchestrator streaming a whole-export ZIP of 300k files: RSS +62 MB against +162 MB, for
 *   the same CPU (a full GC of its small live heap is cheap).
 * V8 reads both flags at each GC, so they apply after start; a value given on node's command line
 * (or, for the first, in NODE_OPTIONS) wins.
 */
export function limitHeapGrowth(options: { fixedYoungGeneration: boolean }): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  if (!/heap[-_]growing[-_]percent/.test(given)) setFlagsFromString("--heap-growing-percent=20");
  if (options.fixedYoungGeneration && !/semi[-_]space/.test(given)) {
    setFlagsFromString("--semi-space-growth-factor=1");
  }
}

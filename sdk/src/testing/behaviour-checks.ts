// What an exporter does while it runs, beyond the bytes it writes: it stops soon after a cancel,
// reports progress for every item, writes nowhere but ctx.storage (and its scratchDir), and
// accounts for every annotation it is given. Each check throws an Error that says what the plugin
// did and what to change; testExporter() runs them.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import { MANIFEST_KEY } from "../storage/export-storage.ts";
import { generateItems, type SampleDataset, sampleDataset } from "./fixture.ts";
import { type ExporterClass, listFiles, runSampleExport } from "./run-sample-export.ts";

/** How long export() may keep running after its signal aborts (a job's cancel, a worker stopping). */
export const ABORT_DEADLINE_MS = 2000;

export interface BehaviourCheckOptions {
  /** Raw exporter options (default {}). */
  options?: Record<string, unknown>;
}

/**
 * Aborts an export of 400 generated items at the 200th and measures from the abort until export()
 * settles: it must reject within ABORT_DEADLINE_MS and leave no file in storage.
 */
export async function checkStopsOnAbort(
  Exporter: ExporterClass<unknown>,
  { options = {}, deadlineMs = ABORT_DEADLINE_MS }: BehaviourCheckOptions & { deadlineMs?: number } = {},
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "labelport-abort-"));
  const controller = new AbortController();
  let aborted = false;
  // The deadline starts at the abort, so a slow start of the export does not count.
  let deadline: NodeJS.Timeout | undefined;
  let markLate: (late: { settled: "late" }) => void = () => {};
  const late = new Promise<{ settled: "late" }>((resolve) => {
    markLate = resolve;
  });
  async function* items(): AsyncGenerator<Item> {
    let n = 0;
    for await (const item of generateItems(400)) {
      if (++n === 200) {
        aborted = true;
        deadline = setTimeout(() => markLate({ settled: "late" }), deadlineMs);
        controller.abort(new Error("canceled by the conformance kit"));
      }
      yield item;
    }
  }
  const run = runSampleExport(Exporter, {
    root,
    items,
    totalItems: 400,
    signal: controller.signal,
    saveOriginalFile: true,
    options,
  }).then(
    (result) => ({ settled: "resolved" as const, result }),
    () => ({ settled: "rejected" as const }),
  );
  try {
    const outcome = await Promise.race([run, late]);
    clearTimeout(deadline);
    const name = Exporter.manifest?.name ?? Exporter.name;
    if (!aborted)
      throw new Error(`${name}: export() settled before reading 200 of 400 items, so the abort check could not run`);
    if (outcome.settled === "late") {
      throw new Error(
        `${name}: export() was still running ${deadlineMs} ms after ctx.signal aborted; ` +
          "check ctx.signal.aborted (or ctx.signal.throwIfAborted()) in every loop and pass ctx.signal to long waits",
      );
    }
    if (outcome.settled === "resolved") {
      await outcome.result.cleanup();
      throw new Error(`${name}: export() completed although ctx.signal aborted; it must reject (throwIfAborted)`);
    }
    const left = await listFiles(join(root, "store"));
    if (left.length > 0) throw new Error(`${name}: files left in storage after abort: ${left.join(", ")}`);
  } finally {
    // A late export keeps the root until it settles; removing it now could make it fail differently.
    void run.finally(() => rm(root, { recursive: true, force: true }));
  }
}

/** Exports the sample dataset and checks the ctx.progress() calls add up to the items exported. */
export async function checkReportsProgress(
  Exporter: ExporterClass<unknown>,
  { options = {} }: BehaviourCheckOptions = {},
): Promise<void> {
  let reported = 0;
  const run = await runSampleExport(Exporter, {
    options,
    onProgress: ({ items }) => {
      reported += items;
    },
  });
  await run.cleanup();
  const exported = Number(run.result.counts.itemCount);
  if (reported !== exported) {
    const name = Exporter.manifest?.name ?? Exporter.name;
    throw new Error(
      `${name}: ctx.progress() reported ${reported} items of ${exported} exported; ` +
        "call ctx.progress(1, item.annotations.length) once per item, in the pass that writes it",
    );
  }
}

/**
 * Runs an export with the working directory and TMPDIR pointed at fresh empty directories and
 * fails if any file is left in them: artifacts go through ctx.storage (which may be S3, so a
 * local file is lost), spill files under ctx.scratchDir (removed after the job). Changes
 * process.cwd() for the duration: vitest runs the tests of a file one after another.
 */
export async function checkWritesOnlyThroughStorage(
  Exporter: ExporterClass<unknown>,
  { options = {} }: BehaviourCheckOptions = {},
): Promise<void> {
  const sandbox = await mkdtemp(join(tmpdir(), "labelport-sandbox-"));
  const root = await mkdtemp(join(tmpdir(), "labelport-sample-"));
  const cwd = join(sandbox, "cwd");
  const tmp = join(sandbox, "tmp");
  await mkdir(cwd);
  await mkdir(tmp);
  const previousCwd = process.cwd();
  const previousTmpdir = process.env.TMPDIR;
  let run: Awaited<ReturnType<typeof runSampleExport>> | undefined;
  try {
    process.chdir(cwd);
    process.env.TMPDIR = tmp;
    run = await runSampleExport(Exporter, { root, options, saveOriginalFile: true });
  } finally {
    process.chdir(previousCwd);
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
    await run?.cleanup();
  }
  const stray = [
    ...(await listFiles(cwd)).map((f) => `working directory: ${f}`),
    ...(await listFiles(tmp)).map((f) => `TMPDIR: ${f}`),
  ];
  await rm(sandbox, { recursive: true, force: true });
  if (stray.length > 0) {
    const name = Exporter.manifest?.name ?? Exporter.name;
    throw new Error(
      `${name}: export() wrote files outside ctx.storage (${stray.join(", ")}); ` +
        "write artifacts with ctx.storage and temporary files under ctx.scratchDir",
    );
  }
}

/**
 * Exports `fixture` (default the sample dataset) and checks the manifest accounts for every
 * annotation the kit fed: annotationCount (written) + the dropped ones = annotationsReceived = fed,
 * every dropped or changed reason a non-empty string with a positive whole count, and the job's
 * ExportCounts saying the same.
 */
export async function checkAccountsForAnnotations(
  Exporter: ExporterClass<unknown>,
  {
    options = {},
    format,
    fixture = sampleDataset(),
  }: BehaviourCheckOptions & { format?: string; fixture?: SampleDataset } = {},
): Promise<void> {
  const fed = fixture.items.reduce((n, item) => n + item.annotations.length, 0);
  const run = await runSampleExport(Exporter, { options, fixture, ...(format ? { format } : {}) });
  const name = Exporter.manifest?.name ?? Exporter.name;
  try {
    const manifest = await run.json<{
      annotationCount: number;
      annotationsReceived: number;
      dropped: Record<string, number>;
      changed: Record<string, number>;
    }>(MANIFEST_KEY);
    for (const [field, counts] of [
      ["ctx.drop", manifest.dropped],
      ["ctx.changed", manifest.changed],
    ] as const) {
      for (const [reason, count] of Object.entries(counts)) {
        if (reason.trim() === "")
          throw new Error(`${name}: ${field}() was called with an empty reason; say what and why`);
        if (!Number.isSafeInteger(count) || count <= 0) {
          throw new Error(
            `${name}: ${field}(${JSON.stringify(reason)}) counted ${count}; counts are whole and positive`,
          );
        }
      }
    }
    const dropped = Object.values(manifest.dropped).reduce((n, c) => n + c, 0);
    if (manifest.annotationsReceived !== fed) {
      throw new Error(
        `${name}: the manifest says ${manifest.annotationsReceived} annotations received, the kit fed ${fed}; ` +
          "every annotation of every item given to export() counts as received (processors must not drop items here)",
      );
    }
    if (manifest.annotationCount + dropped !== fed) {
      throw new Error(
        `${name}: ${manifest.annotationCount} written + ${dropped} dropped != ${fed} received; ` +
          "call ctx.drop(reason) once for each annotation the files do not hold, and only for those",
      );
    }
    const counts = run.result.counts;
    const countsDropped = Object.fromEntries(counts.dropped.map((d) => [d.reason, Number(d.count)]));
    if (
      Number(counts.annotationCount) !== manifest.annotationCount ||
      Number(counts.receivedAnnotations) !== manifest.annotationsReceived ||
      JSON.stringify(countsDropped) !== JSON.stringify(manifest.dropped)
    ) {
      throw new Error(`${name}: the export's counts and its manifest disagree about annotations`);
    }
  } finally {
    await run.cleanup();
  }
}

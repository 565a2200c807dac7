// GET /api/export's (and /stats') totals of a selection of tracks, kept in `track_totals` for as
// long as no write has touched the dataset's annotations (data/annotation-writes.ts): a repeated
// export's headers then wait for two small reads, not a scan of every selected track. Totals are
// kept only when computed while no write was under way, under the write sequence read before
// them; read back only while that sequence is still the dataset's and no write is under way. In
// an export's snapshot both reads see what the body streams. A dataset version's totals hold for
// good: a version never changes.
import { createHash } from "node:crypto";
import type { ClientSession, Db } from "mongodb";
import { type AnnotationWritesState, annotationWritesState } from "../data/annotation-writes.ts";
import { type CategoryDoc, Collections } from "../data/model.ts";
import { TRACK_STATS_VERSION } from "../data/tracks.ts";
import type { Logger } from "../logger.ts";
import type { TrackSummary } from "./track-summary.ts";

/** Bumped when what a summary holds, or how it is computed, changes. */
const KEPT_FORMAT = 1;

/** What a summary depends on besides the tracks: the query and the dataset's category names. */
export interface TrackSelection {
  format: string;
  includeInterpolated: boolean;
  videoIds: readonly string[];
  personaIds: readonly string[];
  annotationTypes: ReadonlySet<string>;
  categories: readonly CategoryDoc[];
}

interface KeptTotalsDoc {
  _id: string;
  datasetId: string;
  seq: number;
  summary: Omit<TrackSummary, "invalid">;
  at: Date;
}

function keptOf(db: Db) {
  return db.collection<KeptTotalsDoc>(Collections.trackTotals);
}

function selectionKey(datasetId: string, selection: TrackSelection): string {
  const sorted = (values: Iterable<string>) => [...values].sort();
  const described = JSON.stringify([
    KEPT_FORMAT,
    TRACK_STATS_VERSION,
    selection.format,
    selection.includeInterpolated,
    sorted(selection.videoIds),
    sorted(selection.personaIds),
    sorted(selection.annotationTypes),
    selection.categories.map((c) => [c.id, c.name]),
  ]);
  return `${datasetId}/${createHash("sha256").update(described).digest("base64url")}`;
}

/**
 * The summary of `selection` in dataset `datasetId`: the kept one while it still holds, else
 * `compute(state)`'s (the write state read for it), kept for next time when no write was under way (and no sequence is invalid: a
 * 400 lists them, which only a scan finds). Reads go through `session` when given.
 */
export async function keptTrackSummary(
  db: Db,
  datasetId: string,
  selection: TrackSelection,
  compute: (state: AnnotationWritesState) => Promise<TrackSummary>,
  options: {
    session?: ClientSession | undefined;
    log: Logger;
    /** The id of the dataset version asked for: it never changes, so its totals hold whatever is written. */
    version?: string | undefined;
    /** Returns once the totals are kept (a request's headers do not wait for it). */
    awaitKeeping?: boolean;
  },
): Promise<TrackSummary> {
  const inSession = options.session ? { session: options.session } : {};
  const state = options.version ? { seq: 0, quiet: true } : await annotationWritesState(db, datasetId, options.session);
  const _id = selectionKey(options.version ? `${datasetId}@${options.version}` : datasetId, selection);
  if (state.quiet) {
    const kept = await keptOf(db).findOne({ _id, seq: state.seq }, inSession);
    if (kept) return { ...kept.summary, invalid: [] };
  }
  const summary = await compute(state);
  if (state.quiet && summary.invalidCount === 0) {
    const { invalid: _, ...totals } = summary;
    // A failure only costs the next request a scan.
    const keeping = keptOf(db)
      .replaceOne({ _id }, { datasetId, seq: state.seq, summary: totals, at: new Date() }, { upsert: true })
      .catch((err: unknown) => options.log.warn({ err, datasetId }, "could not keep the export's totals"));
    if (options.awaitKeeping) await keeping;
  }
  return summary;
}

// Stored track statistics (data/tracks.ts trackStatsOf, written with each track) against what
// MongoDB computes from the boxes for tracks without them: the same numbers, track by track, for
// every request option, so GET /api/export's headers do not depend on when a track was written.
import { randomUUID } from "node:crypto";
import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { storedId } from "../data/ids.ts";
import { type AnnotationDoc, type BoxDoc, Collections, type DatasetDoc } from "../data/model.ts";
import { deriveTrackFields, TRACK_STATS_VERSION, TRACK_TOTALS_INDEX, withBoxes } from "../data/tracks.ts";
import { type TrackStatsOptions, trackStatsProjection } from "../data/tracks-expr.ts";
import { trackSummary } from "./track-summary.ts";

let client: MongoClient;
/** The same tracks: as written (stats stored), as written before (none), and with stale stats. */
const dbs: Record<"stored" | "computed" | "stale", Db> = {} as never;

beforeAll(async () => {
  client = new MongoClient(inject("mongoUrl"));
  const name = `t_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  for (const kind of ["stored", "computed", "stale"] as const) dbs[kind] = client.db(`${name}_${kind}`);
});

afterAll(async () => {
  for (const db of Object.values(dbs)) await db.dropDatabase().catch(() => undefined);
  await client?.close();
});

const box = (frameNumber: number, isKeyframe = true, width = 10): BoxDoc => ({
  frameNumber,
  x: 1.5,
  y: 2,
  width,
  height: 10,
  isKeyframe,
  visible: true,
});

const categories: DatasetDoc["categories"] = [
  { id: 1, name: "car" },
  { id: 2, name: "Fußgänger" },
];

const now = new Date("2025-10-06T14:30:00.000Z");
let n = 0;
function track(fields: Partial<AnnotationDoc>, boxes: BoxDoc[] | undefined, mode = "linear"): AnnotationDoc {
  return deriveTrackFields({
    _id: storedId("d", `a-${String(n++).padStart(3, "0")}`),
    datasetId: "d",
    itemId: "video-1",
    personaId: "persona-ü",
    type: "track",
    ...(boxes ? { boxSequence: { interpolationMode: mode, boxes } } : {}),
    removed: false,
    createdAt: now,
    updatedAt: now,
    ...fields,
  });
}

const docs: AnnotationDoc[] = [
  track({}, [box(0), box(5, false), box(10), box(30)]),
  track({ link: { typeAssignment: { typeId: "entity-1", typeName: "Pitcher" } } }, [box(0), box(3)], ""),
  track({ link: { objectLink: { objectId: "obj-1", objectType: "entity" } } }, [box(2)]),
  track({ categoryId: 2 }, [box(0), box(4)]),
  track({ categoryId: 7 }, [box(0), box(4)]),
  track({ _id: storedId("d", "ümlaut-id"), itemId: "vidéo" }, [box(1), box(2), box(9)]),
  (() => {
    const doc = track({}, [box(0)]);
    delete doc.personaId;
    return deriveTrackFields(doc);
  })(),
  // Invalid: no keyframe, out of order and duplicated, negative size, unknown mode, no boxes.
  track({}, [box(0, false), box(4, false)]),
  track({}, [box(10), box(4), box(10), box(20, false), box(4)]),
  track({}, [box(0), box(6, true, -3), box(6)]),
  track({ categoryId: 1 }, [box(0), box(8)], "cubic"),
  track({}, []),
  track({}, undefined),
  {
    _id: storedId("d", "a-bbox"),
    datasetId: "d",
    itemId: "video-1",
    type: "bbox",
    geometry: { bbox: { x: 0, y: 0, width: 1, height: 1 } },
    removed: false,
    createdAt: now,
    updatedAt: now,
  },
];

const OPTIONS: TrackStatsOptions[] = [false, true].flatMap((includeInterpolated) =>
  (["jsonl", "json"] as const).map((format) => ({ includeInterpolated, format, categories })),
);

async function statsById(db: Db, options: TrackStatsOptions): Promise<Record<string, unknown>> {
  const rows = await db
    .collection<AnnotationDoc>(Collections.annotations)
    .aggregate([{ $project: trackStatsProjection(options, { errors: true }) }, { $sort: { _id: 1 } }])
    .toArray();
  return Object.fromEntries(rows.map((row) => [row._id, { track: row.track, stats: row.stats }]));
}

describe("stored track statistics", () => {
  it("are written with every track, at the current version", () => {
    for (const doc of docs) {
      if (doc.type === "track") expect(doc.trackStats?.v).toBe(TRACK_STATS_VERSION);
      else expect(doc.trackStats).toBeUndefined();
    }
    const [first] = docs as [AnnotationDoc];
    const merged = { ...first, ...withBoxes(first, [box(0), box(40)]) };
    expect(merged.frameRange).toEqual([0, 40]);
    expect(merged.trackStats).toEqual(deriveTrackFields({ ...merged }).trackStats);
    expect(merged.trackStats).toMatchObject({ keyframes: 2, interpolated: 39, valid: true });
  });

  it("are what MongoDB computes from the boxes, track by track and option by option", async () => {
    // The stored tracks are summed from index entries (a covered query), the others from documents.
    await dbs.stored
      .collection<AnnotationDoc>(Collections.annotations)
      .createIndex(TRACK_TOTALS_INDEX.key, TRACK_TOTALS_INDEX.options);
    await dbs.stored.collection<AnnotationDoc>(Collections.annotations).insertMany(docs);
    await dbs.computed
      .collection<AnnotationDoc>(Collections.annotations)
      .insertMany(docs.map(({ trackStats: _, ...doc }) => doc));
    // Statistics of another version are recomputed, not trusted.
    await dbs.stale
      .collection<AnnotationDoc>(Collections.annotations)
      .insertMany(
        docs.map((doc) =>
          doc.trackStats
            ? { ...doc, trackStats: { ...doc.trackStats, v: TRACK_STATS_VERSION + 1, keyframes: -1 } }
            : doc,
        ),
      );
    for (const options of OPTIONS) {
      const computed = await statsById(dbs.computed, options);
      expect(await statsById(dbs.stored, options)).toEqual(computed);
      expect(await statsById(dbs.stale, options)).toEqual(computed);
    }
  });

  it("give the same summary: counts, the invalid sequences with their errors, and the size", async () => {
    const match = { datasetId: "d" };
    for (const options of OPTIONS) {
      const stored = await trackSummary(dbs.stored, match, options);
      const computed = await trackSummary(dbs.computed, match, options);
      expect(stored.invalidCount).toBe(6);
      if (options.includeInterpolated) {
        // Interpolated box lengths are sampled at random; the rest of the size is exact.
        expect(Math.abs(stored.totalSize - computed.totalSize)).toBeLessThan(200);
        expect({ ...stored, totalSize: 0 }).toEqual({ ...computed, totalSize: 0 });
      } else {
        expect(stored).toEqual(computed);
      }
    }
  });
});

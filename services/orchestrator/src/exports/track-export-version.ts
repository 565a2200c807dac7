// GET /api/export (and /stats) of a dataset version: the version's tracks, read through the
// versioned reads (data/versions-read.ts) in the live export's order. A version never changes, so
// the summary is a first pass over the same tracks the body streams after it, and its counts and
// size are exact (the live export reads them from stored statistics and estimates the size).
import { type Category, toVideoAnnotationJson, validateBoxSequence } from "@labelport/sdk";
import type { Db, Document, Filter } from "mongodb";
import { annotationMessage, categoryMessage } from "../data/convert.ts";
import { publicId, storedId } from "../data/ids.ts";
import type { AnnotationDoc, DatasetDoc } from "../data/model.ts";
import type { ResolvedVersion } from "../data/versions.ts";
import { decodeRaw, idOf, versionAnnotations, versionItemPage } from "../data/versions-read.ts";
import { type InvalidSequence, MAX_LISTED_INVALID, type TrackSummary } from "./track-summary.ts";

/** Items per page of the version's items; their tracks are read per page. */
const ITEM_PAGE = 500;

/** The version's tracks `match` selects, in (itemId, _id) order, as GET /api/export streams them. */
export async function* versionTrackDocs(
  db: Db,
  version: ResolvedVersion,
  match: Filter<AnnotationDoc>,
): AsyncGenerator<AnnotationDoc> {
  const datasetId = version.datasetId;
  // The item condition moves to the item pages; the tracks are then read per page of items.
  const { itemId, ...annotationFilter } = match as Document;
  const itemFilter: Document = { datasetId };
  const videoIds = (itemId as { $in?: string[] } | undefined)?.$in;
  if (videoIds) itemFilter._id = { $in: videoIds.map((id) => storedId(datasetId, id)) };
  let after: string | undefined;
  do {
    const page = await versionItemPage(db, datasetId, version, itemFilter, after, ITEM_PAGE);
    if (page.items.length > 0) {
      const ids = page.items.map((item) => publicId(datasetId, idOf(item)));
      const tracks = await versionAnnotations(db, datasetId, version, annotationFilter, { $in: ids });
      for (const track of tracks) yield decodeRaw<AnnotationDoc>(track);
    }
    after = page.next;
  } while (after !== undefined);
}

/** Counts, exact size and invalid sequences of the version's selected tracks (one pass). */
export async function versionTrackSummary(
  docs: AsyncIterable<AnnotationDoc>,
  categories: DatasetDoc["categories"],
  options: { includeInterpolated: boolean; format: "jsonl" | "json" },
): Promise<TrackSummary> {
  const byId = new Map<number, Category>(categories.map((c) => [c.id, categoryMessage(c)]));
  const lineOptions = { includeInterpolated: options.includeInterpolated, category: (id: number) => byId.get(id) };
  let annotations = 0;
  let keyframes = 0;
  let interpolated = 0;
  let bytes = 0;
  let invalidCount = 0;
  let invalid: InvalidSequence[] = [];
  for await (const doc of docs) {
    const message = annotationMessage(doc);
    const sequence = message.geometry.case === "boxSequence" ? message.geometry.value : undefined;
    const errors = sequence ? validateBoxSequence(sequence) : [];
    if (errors.length > 0) {
      invalidCount += 1;
      invalid.push({ annotationId: message.id, errors });
      // The first MAX_LISTED_INVALID by id are listed, as the live export lists them.
      if (invalid.length > 2 * MAX_LISTED_INVALID) invalid = firstById(invalid);
      continue;
    }
    const line = toVideoAnnotationJson(message, lineOptions);
    for (const box of line.boundingBoxSequence.boxes) {
      if (box.isKeyframe) keyframes += 1;
      else interpolated += 1;
    }
    bytes += Buffer.byteLength(JSON.stringify(line)) + (options.format === "json" && annotations > 0 ? 2 : 1);
    annotations += 1;
  }
  // jsonl: a newline after each line; json: "[", "\n" + lines joined by ",\n", "\n]\n".
  const totalSize = options.format === "json" ? (annotations === 0 ? 3 : bytes + 1 + 3) : bytes;
  return {
    annotationCount: annotations,
    sequenceCount: annotations,
    keyframeCount: keyframes,
    interpolatedFrameCount: interpolated,
    totalSize,
    invalidCount,
    invalid: firstById(invalid),
  };
}

function firstById(list: InvalidSequence[]): InvalidSequence[] {
  return list
    .sort((a, b) => (a.annotationId < b.annotationId ? -1 : a.annotationId > b.annotationId ? 1 : 0))
    .slice(0, MAX_LISTED_INVALID);
}

// The reads one batch of video track lines needs before any line is decided, each one `$in`
// query over the whole batch (never one per line): the videos and personas the lines reference,
// the annotations with the lines' ids, the stored tracks their frames may overlap, and the full
// documents a merge or trim may rewrite. Reads run one after another: a transaction's session
// takes one operation at a time.
import type { Collection, Db, Filter } from "mongodb";
import { publicId, storedId } from "../ids.ts";
import type { AnnotationDoc, ItemDoc, PersonaDoc } from "../model.ts";
import { Collections } from "../model.ts";
import { rangesOverlap } from "../tracks.ts";
import type { ParsedAnnotation } from "./annotation-line.ts";
import type { BatchWrites } from "./batch-writes.ts";
import type { TrackRange } from "./conflict-rules.ts";
import type { ImportOptions } from "./options.ts";
import { type BatchDocs, groupKey, type ImportOverlay } from "./overlay.ts";

/** A batch's lookups, and the work its lines add to them. */
export interface AnnotationBatchDocs extends BatchDocs {
  /** Stored tracks per track key that this import had not touched when the batch was read. */
  stored: Map<string, TrackRange[]>;
}

export interface ParsedLine {
  line: number;
  value: ParsedAnnotation;
}

type OverlappingFramesPolicy = ImportOptions["conflictResolution"]["overlappingFrames"];

const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

export class AnnotationLookups {
  /** Videos of this dataset by public id, across batches: whether it exists (a placeholder may be made). */
  readonly videos = new Map<string, boolean>();
  /** Personas by id, across batches: whether it exists (in any dataset; see `lookUp`). */
  readonly personas = new Map<string, boolean>();
  private readonly items: Collection<ItemDoc>;
  private readonly personaDocs: Collection<PersonaDoc>;
  private readonly annotations: Collection<AnnotationDoc>;

  constructor(
    db: Db,
    private readonly datasetId: string,
    private readonly writes: BatchWrites,
    private readonly overlay: ImportOverlay,
  ) {
    this.items = db.collection<ItemDoc>(Collections.items);
    this.personaDocs = db.collection<PersonaDoc>(Collections.personas);
    this.annotations = db.collection<AnnotationDoc>(Collections.annotations);
  }

  /** Everything the lines of `parsed` are decided on; call after `writes.beforeLookups()`. */
  async lookUp(parsed: readonly ParsedLine[], policy: OverlappingFramesPolicy): Promise<AnnotationBatchDocs> {
    const read = this.writes.readOptions();
    const videoIds = unique(parsed.map((p) => p.value.doc.itemId));
    const newVideoIds = videoIds.filter((id) => !this.videos.has(id));
    const personaIds = unique(parsed.map((p) => p.value.doc.personaId ?? "")).filter(
      (id) => id !== "" && !this.personas.has(id),
    );
    const ids = unique(parsed.map((p) => p.value.doc._id));
    if (newVideoIds.length > 0) {
      const found = await this.items
        .find(
          { _id: { $in: newVideoIds.map((id) => storedId(this.datasetId, id)) } },
          { projection: { _id: 1 }, ...read },
        )
        .toArray();
      for (const v of found) this.videos.set(publicId(this.datasetId, v._id), true);
      for (const id of newVideoIds) if (!this.videos.has(id)) this.videos.set(id, false);
    }
    if (personaIds.length > 0) {
      // Persona ids are unique per database: one another dataset created is the same persona (a
      // placeholder here would collide with it, or before plain inserts, take it over).
      const found = await this.personaDocs
        .find({ _id: { $in: personaIds } }, { projection: { _id: 1 }, ...read })
        .toArray();
      for (const p of found) this.personas.set(p._id, true);
      for (const id of personaIds) if (!this.personas.has(id)) this.personas.set(id, false);
    }
    const full = new Map<string, AnnotationDoc>();
    for (const doc of await this.annotations.find({ _id: { $in: ids } }, read).toArray()) full.set(doc._id, doc);
    this.writes.patch(Collections.annotations, full, ids);
    // Tracks that may overlap: the same video, persona and link target (indexed `trackKey`).
    const keys = unique(parsed.map((p) => groupKey(p.value.doc)));
    const candidateFilter: Filter<AnnotationDoc> = {
      datasetId: this.datasetId,
      trackKey: { $in: keys },
      removed: { $ne: true },
    };
    const stored = new Map<string, TrackRange[]>();
    const candidates = await this.annotations
      .find(candidateFilter, { projection: { _id: 1, trackKey: 1, frameRange: 1 }, ...read })
      .toArray();
    for (const c of candidates) {
      if (this.overlay.has(c._id) || !c.frameRange || !c.trackKey) continue;
      let list = stored.get(c.trackKey);
      if (!list) {
        list = [];
        stored.set(c.trackKey, list);
      }
      list.push({ id: c._id, range: c.frameRange });
    }
    // Full documents of the annotations a merge or trim may rewrite, in one query. A preview
    // decides those from the overlay's ranges instead.
    if (!this.writes.dry && (policy === "merge" || policy === "overwrite")) {
      const needed = new Set<string>();
      for (const p of parsed) {
        const range = p.value.doc.frameRange;
        if (!range) continue;
        for (const c of stored.get(groupKey(p.value.doc)) ?? []) {
          if (!full.has(c.id) && rangesOverlap(c.range, range)) needed.add(c.id);
        }
        for (const id of this.overlay.group(groupKey(p.value.doc)) ?? []) if (!full.has(id)) needed.add(id);
      }
      if (needed.size > 0) {
        for (const doc of await this.annotations.find({ _id: { $in: [...needed] } }, read).toArray()) {
          full.set(doc._id, doc);
        }
        this.writes.patch(Collections.annotations, full, needed);
      }
    }
    return { full, work: new Map(), stored };
  }
}

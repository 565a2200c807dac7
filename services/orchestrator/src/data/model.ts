// The MongoDB documents of datasets, items, annotations, personas and imports, and the string
// values the proto enums are stored as (readable in the shell, stable across enum renumbering).
import type { JsonObject } from "@bufbuild/protobuf";
import { AnnotationType, ItemKind, ItemStatus } from "@labelport/sdk/contracts";

export const Collections = {
  datasets: "datasets",
  items: "items",
  annotations: "annotations",
  personas: "personas",
  imports: "imports",
  importJournal: "import_journal",
  importCommits: "import_commits",
  exports: "exports",
  versions: "versions",
  /** Before-images of items and annotations that versions still see (data/versions-archive.ts). */
  itemsHistory: "items_history",
  annotationsHistory: "annotations_history",
  /** Writes under way to each dataset's annotations (data/annotation-writes.ts). */
  annotationWrites: "annotation_writes",
  /** GET /api/export's totals of a selection, kept while its annotations are unchanged. */
  trackTotals: "track_totals",
} as const;

export interface CategoryDoc {
  id: number;
  name: string;
  supercategory?: string;
  keypoints?: string[];
  skeleton?: Array<[number, number]>;
}

export interface DatasetDoc {
  _id: string;
  name: string;
  description: string;
  categories: CategoryDoc[];
  nextCategoryId: number;
  createdAt: Date;
  /** The `seq` of the newest version ever created (never decreases; see data/versions-archive.ts). */
  versionSeq?: number;
  /** How many versions exist; writes archive before-images only while there is one. */
  versionCount?: number;
}

/** A dataset version: the dataset as it was when `versionSeq` became `seq` (data/versions.ts). */
export interface VersionDoc {
  _id: string;
  datasetId: string;
  name: string;
  description: string;
  seq: number;
  /** The dataset's categories at that instant. */
  categories: CategoryDoc[];
  createdBy: string;
  createdAt: Date;
  /** The newest version of the dataset when this one was made. */
  parentId?: string;
  /** Counted once, on first need (a version never changes). */
  stats?: { items: number; annotations: number; bytes: number };
}

export type ItemKindName = "image" | "video" | "record";
export type ItemStatusName = "draft" | "in_review" | "approved" | "rejected";
export type AnnotationTypeName = "bbox" | "polygon" | "polyline" | "keypoints" | "classification" | "track" | "mask";

export interface MediaDoc {
  uri?: string;
  fileName?: string;
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  depth?: number;
}

export interface ItemDoc {
  _id: string;
  datasetId: string;
  kind: ItemKindName;
  status: ItemStatusName;
  split?: string;
  media?: MediaDoc;
  meta?: JsonObject;
  tags: string[];
  data?: JsonObject;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export interface BoxDoc {
  frameNumber: number;
  x: number;
  y: number;
  width: number;
  height: number;
  isKeyframe: boolean;
  visible: boolean;
}

export interface BoxSequenceDoc {
  interpolationMode: string;
  boxes: BoxDoc[];
}

export interface KeypointDoc {
  x: number;
  y: number;
  visibility: number;
}

/** COCO's uncompressed RLE: run lengths alternating 0s and 1s, starting with 0s, column-major. */
export interface MaskDoc {
  width: number;
  height: number;
  counts: number[];
}

/** Exactly one member is set, matching the annotation type. */
export interface GeometryDoc {
  bbox?: { x: number; y: number; width: number; height: number };
  /** Flattened x,y pairs (polygon and polyline). */
  points?: number[];
  keypoints?: KeypointDoc[];
  mask?: MaskDoc;
}

export interface LinkDoc {
  typeAssignment?: { typeId: string; typeName: string };
  objectLink?: { objectId: string; objectType: string };
}

export interface AnnotationDoc {
  _id: string;
  datasetId: string;
  itemId: string;
  personaId?: string;
  type: AnnotationTypeName;
  categoryId?: number;
  attributes?: JsonObject;
  geometry?: GeometryDoc;
  boxSequence?: BoxSequenceDoc;
  /** First and last frame of `boxSequence`, kept with it so overlap checks need not load boxes. */
  frameRange?: [number, number];
  /** Video, persona and link target of a track (see `trackKeyOf`). */
  trackKey?: string;
  link?: LinkDoc;
  /**
   * Tracks: what GET /api/export counts, checks and sizes per track (see `trackStatsOf`), derived
   * with `frameRange` wherever boxes or references are written. Older documents lack it.
   */
  trackStats?: TrackStatsDoc;
  removed: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Who made it (the writer's `createdBy`, else the caller's key name) and who last reviewed it. */
  createdBy?: string;
  reviewedBy?: string;
  reviewTime?: Date;
}

/** Per-track export statistics that do not depend on the request (exports/track-summary.ts sums them). */
export interface TrackStatsDoc {
  /** `TRACK_STATS_VERSION` when written; statistics of another version are recomputed when read. */
  v: number;
  keyframes: number;
  /** Frames interpolation adds (counted when the export includes interpolated frames). */
  interpolated: number;
  /** No validateBoxSequence error. */
  valid: boolean;
  /** validateBoxSequence's messages, for invalid sequences only. */
  errors?: string[];
  /** Bytes of the track's line without its boxes, its separator and its category's name. */
  fixed: number;
  /** Set when the line's typeAssignment is the track's category: its id (null when stored null). */
  category?: number | null;
}

export interface PersonaDoc {
  _id: string;
  /** Unset for personas shared by every dataset. */
  datasetId?: string;
  name: string;
  placeholder: boolean;
  createdAt: Date;
}

/** The reverse of a proto-enum -> stored-name table (UNSPECIFIED has no name). */
function invert<E extends number, N extends string>(names: Record<E, N | undefined>): Record<N, E> {
  const out = {} as Record<N, E>;
  for (const [value, name] of Object.entries(names) as Array<[string, N | undefined]>) {
    if (name !== undefined) out[name] = Number(value) as E;
  }
  return out;
}

export const itemKindName: Record<ItemKind, ItemKindName | undefined> = {
  [ItemKind.UNSPECIFIED]: undefined,
  [ItemKind.IMAGE]: "image",
  [ItemKind.VIDEO]: "video",
  [ItemKind.RECORD]: "record",
};

export const itemKindOf = invert<ItemKind, ItemKindName>(itemKindName);

export const itemStatusName: Record<ItemStatus, ItemStatusName | undefined> = {
  [ItemStatus.UNSPECIFIED]: undefined,
  [ItemStatus.DRAFT]: "draft",
  [ItemStatus.IN_REVIEW]: "in_review",
  [ItemStatus.APPROVED]: "approved",
  [ItemStatus.REJECTED]: "rejected",
};

export const itemStatusOf = invert<ItemStatus, ItemStatusName>(itemStatusName);

export const annotationTypeName: Record<AnnotationType, AnnotationTypeName | undefined> = {
  [AnnotationType.UNSPECIFIED]: undefined,
  [AnnotationType.BBOX]: "bbox",
  [AnnotationType.POLYGON]: "polygon",
  [AnnotationType.POLYLINE]: "polyline",
  [AnnotationType.KEYPOINTS]: "keypoints",
  [AnnotationType.CLASSIFICATION]: "classification",
  [AnnotationType.TRACK]: "track",
  [AnnotationType.MASK]: "mask",
};

export const annotationTypeOf = invert<AnnotationType, AnnotationTypeName>(annotationTypeName);

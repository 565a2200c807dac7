// Seed 002's plugin item, as a view of a Labelport item: what a Synapse export plugin reads
// (`id`, `file`/`files`, `data` as DM Schema v1, `task`, `tags`, `data_unit.meta`), so a plugin
// ported from Synapse keeps its item code. Nothing is stored twice: the view is built from the
// item on demand.
//
// Mapping: `id` = item id; `files` (and `file`, the same object) = the item's media under its DM
// media key (`{image_1: {path_original, file_name, width, height}}`); `data` = the DM v1 payload
// (dm-schema.ts); `task` = the item's `meta.task` object (`{id, tags, ...}`), null when it has
// none; `tags` = the item's tags; `data_unit.meta` = the item's meta without `task`,
// `data_unit.files` = `{<media key>: {path_original}}`.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { dmMediaKey, dmPayloadOf } from "./dm-schema.ts";
import type { Category, Item } from "./gen/labelport/v1/dataset_pb.ts";

export interface SeedFile {
  path_original: string;
  file_name: string;
  width: number;
  height: number;
}

export interface SeedItem {
  id: string;
  /** The item's original files by DM media key (`image_1`); `get_original_file_name()` reads `file_name`. */
  files: Record<string, SeedFile>;
  /** The same object as `files` (seed 002 shows both names). */
  file: Record<string, SeedFile>;
  /** DM Schema v1 payload: `{annotations, annotationsData, ...item.data}`. */
  data: JsonObject;
  /** `meta.task` of the item (`{id, tags, ...}`), null when the item has none. */
  task: JsonObject | null;
  tags: string[];
  data_unit: { meta: JsonObject; files: Record<string, { path_original: string }> };
  /** Annotations the DM payload could not carry, by reason ("mask: ..."). */
  dropped: string[];
}

/** The seed-002 item view of a Labelport item, with the dataset's categories naming the classes. */
export function seedItem(item: Item, categories: readonly Category[]): SeedItem {
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const media = dmMediaKey(item);
  const { payload, dropped } = dmPayloadOf(item, names);
  const { task, ...meta } = (item.meta ?? {}) as JsonObject;
  const uri = item.media?.uri ?? "";
  const files = {
    [media]: {
      path_original: uri,
      file_name: item.media?.fileName ?? "",
      width: item.media?.width ?? 0,
      height: item.media?.height ?? 0,
    },
  };
  return {
    id: item.id,
    files,
    file: files,
    data: payload,
    task: isObject(task) ? task : null,
    tags: [...item.tags],
    data_unit: { meta, files: { [media]: { path_original: uri } } },
    dropped,
  };
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

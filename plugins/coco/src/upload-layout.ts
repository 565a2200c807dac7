// Where COCO files and their images are in an upload, as the tools that write COCO lay them out:
// `annotations/instances_<split>.json` (+ person_keypoints_, image_info_, ...) with images under
// `images/<split>/`, `<split>/` or `images/` (pycocotools, datumaro, CVAT, FiftyOne), Roboflow's
// `<split>/_annotations.coco.json` beside its images, or one bare .json.
import { posix } from "node:path";
import type { ImportSource, SourceFile } from "@labelport/sdk";

export interface CocoFile {
  file: SourceFile;
  /** The split as the upload names it (`val2017`, `valid`), "" when it names none. */
  rawSplit: string;
  /** The folder image paths are relative to ("" or ending in "/"). */
  root: string;
}

const TASK_FILE = /^(?:instances|person_keypoints|image_info|captions|panoptic|stuff|labels)_(.+)\.json$/i;
const ROBOFLOW_FILE = /(?:^|\.)_?annotations\.coco\.json$|\.coco\.json$/i;
export const IMAGE_EXTENSION = /\.(jpe?g|jpe|jfif|png|bmp|gif|tiff?|webp|avif|heic|heif)$/i;

/** The COCO files of the upload, in path order; [] when it has none. */
export function findCocoFiles(source: ImportSource): CocoFile[] {
  const json = source.files.filter((f) => f.path.toLowerCase().endsWith(".json"));
  const found: CocoFile[] = [];
  for (const file of json) {
    const dir = posix.dirname(file.path);
    const name = posix.basename(file.path);
    const inAnnotations = posix.basename(dir).toLowerCase() === "annotations";
    const task = TASK_FILE.exec(name);
    let rawSplit: string | undefined;
    if (task) rawSplit = task[1] as string;
    else if (ROBOFLOW_FILE.test(name)) rawSplit = dir === "." ? "" : posix.basename(dir);
    else if (inAnnotations || !source.archive) rawSplit = "";
    if (rawSplit === undefined) continue;
    const rootDir = inAnnotations ? posix.dirname(dir) : dir;
    found.push({ file, rawSplit, root: rootDir === "." ? "" : `${rootDir}/` });
  }
  if (found.length > 0) return found;
  // No name says COCO: any JSON of the upload may be one (reading it tells).
  return json.map((file) => {
    const dir = posix.dirname(file.path);
    return { file, rawSplit: "", root: dir === "." ? "" : `${dir}/` };
  });
}

/** Finds the upload's file for an image a COCO file names, case-insensitively. */
export interface ImageFinder {
  find(coco: CocoFile, fileName: string): SourceFile | undefined;
  /** Image files of the upload. */
  readonly count: number;
}

export function createImageFinder(source: ImportSource): ImageFinder {
  const byPath = new Map<string, SourceFile>();
  const byBase = new Map<string, SourceFile[]>();
  for (const file of source.files) {
    if (!IMAGE_EXTENSION.test(file.path)) continue;
    const lower = file.path.toLowerCase();
    if (!byPath.has(lower)) byPath.set(lower, file);
    const base = posix.basename(lower);
    const same = byBase.get(base);
    if (same) same.push(file);
    else byBase.set(base, [file]);
  }
  return {
    count: byPath.size,
    find(coco, fileName) {
      const name = fileName.replaceAll("\\", "/").replace(/^(\.\/)+/, "");
      const { root, rawSplit } = coco;
      const candidates = [
        ...(rawSplit ? [`${root}images/${rawSplit}/${name}`, `${root}${rawSplit}/${name}`] : []),
        `${root}images/${name}`,
        `${root}${name}`,
        name,
      ];
      for (const path of candidates) {
        const file = byPath.get(path.toLowerCase());
        if (file) return file;
      }
      const same = byBase.get(posix.basename(name).toLowerCase());
      if (!same) return undefined;
      // The same base name in several folders: the one in the split's folder, else the first.
      const splitFolder = `/${rawSplit.toLowerCase()}/`;
      return (rawSplit && same.find((f) => `/${f.path.toLowerCase()}`.includes(splitFolder))) || same[0];
    },
  };
}

/** Labelport's split for a COCO split name: train2017 -> train, val2017/valid/validation -> val. */
export function labelportSplit(rawSplit: string): "train" | "val" | "test" | "" {
  const name = rawSplit.toLowerCase();
  if (name.startsWith("train")) return "train";
  if (name.startsWith("val")) return "val";
  if (name.startsWith("test")) return "test";
  return "";
}

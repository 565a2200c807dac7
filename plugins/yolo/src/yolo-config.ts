// The class names and split references of a YOLO upload: an Ultralytics data.yaml (`names` as a
// list or an {index: name} map; train/val/test as folders, .txt image lists or lists of those;
// `path` as the dataset root), else a darknet obj.data (+ its names file), else a bare
// obj.names / classes.txt.
import { type ImportSource, ImportSourceError, type SourceFile } from "@labelport/sdk";
import { parse } from "yaml";
import { baseName, dirOf, extensionOf, type UploadPaths } from "./upload-paths.ts";

/** A split and the paths the config gives for it, resolved from `bases`. */
export interface SplitRefs {
  split: string;
  refs: string[];
  bases: string[];
  /** Not one of Ultralytics' split keys: ignored unless it names something in the upload. */
  optional?: boolean;
}

export interface YoloConfig {
  /** The file the classes came from (for messages). */
  file: string;
  /** The dataset root: images and labels are looked up below it ("" or ending in "/"). */
  root: string;
  /** Class names by class index (indices may have gaps). */
  names: Map<number, string>;
  splits: SplitRefs[];
  /** Ultralytics pose datasets: [keypoints, 2 or 3 values each]. */
  kptShape?: [number, number];
}

/** Config files are a few kilobytes; a bigger one is not a config. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const ULTRALYTICS_SPLITS: readonly string[] = ["train", "val", "test"];
/** data.yaml keys that are not splits (Ultralytics' own, and Roboflow's). */
const RESERVED_KEYS = new Set([
  "path",
  "nc",
  "names",
  "download",
  "yaml_file",
  "channels",
  "kpt_shape",
  "flip_idx",
  "roboflow",
]);
const DARKNET_SPLITS: ReadonlyArray<[key: string, split: string]> = [
  ["train", "train"],
  ["valid", "val"],
  ["test", "test"],
];

const depth = (path: string) => path.split("/").length;
/** Shallowest first, then by path: the dataset's own config, not one of a nested copy. */
const byDepth = (a: SourceFile, b: SourceFile) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1);

export async function readYoloConfig(source: ImportSource, paths: UploadPaths): Promise<YoloConfig> {
  const small = source.files.filter((f) => f.size <= MAX_CONFIG_BYTES).sort(byDepth);
  const yamls = small.filter((f) => [".yaml", ".yml"].includes(extensionOf(f.path)));
  // data.yaml first: an upload may also hold a training run's args.yaml.
  yamls.sort((a, b) => Number(baseName(b.path) === "data.yaml") - Number(baseName(a.path) === "data.yaml"));
  for (const file of yamls) {
    const config = await ultralyticsConfig(file, paths);
    if (config) return config;
  }
  for (const file of small.filter((f) => extensionOf(f.path) === ".data")) {
    const config = await darknetConfig(file, paths);
    if (config) return config;
  }
  const namesFile = small.find((f) => extensionOf(f.path) === ".names" || baseName(f.path) === "classes.txt");
  if (namesFile) {
    return { file: namesFile.path, root: dirOf(namesFile.path), names: await namesFromFile(namesFile), splits: [] };
  }
  throw new ImportSourceError(
    "no YOLO class names: expected a data.yaml with `names` (Ultralytics), an obj.data with its obj.names (darknet), or a classes.txt",
  );
}

async function ultralyticsConfig(file: SourceFile, paths: UploadPaths): Promise<YoloConfig | undefined> {
  let doc: unknown;
  try {
    doc = parse(await file.text(), { maxAliasCount: 50 });
  } catch (err) {
    if (baseName(file.path) !== "data.yaml") return undefined;
    throw new ImportSourceError(`${file.path}: not valid YAML (${(err as Error).message.split("\n")[0]})`);
  }
  if (!doc || typeof doc !== "object" || !("names" in doc)) return undefined;
  const data = doc as Record<string, unknown>;
  const yamlDir = dirOf(file.path);
  // Ultralytics: paths are relative to `path`, itself relative to the YAML's folder here (an
  // absolute one names the machine that wrote it: its tail is looked up in the upload).
  const root = typeof data.path === "string" ? (paths.folder(data.path, [yamlDir]) ?? yamlDir) : yamlDir;
  const splits: SplitRefs[] = [];
  // train, val and test first; then other keys with paths (our exporter lists every split), used
  // only when they name something in the upload (a `license: CC BY 4.0` does not).
  const others = Object.keys(data).filter((key) => !ULTRALYTICS_SPLITS.includes(key) && !RESERVED_KEYS.has(key));
  for (const key of [...ULTRALYTICS_SPLITS, ...others.sort()]) {
    const value = data[key];
    const refs = typeof value === "string" ? [value] : Array.isArray(value) ? value.filter(isString) : [];
    const optional = !ULTRALYTICS_SPLITS.includes(key);
    if (refs.length > 0) splits.push({ split: key, refs, bases: [root, yamlDir], ...(optional ? { optional } : {}) });
  }
  const kpt = data.kpt_shape;
  const kptShape =
    Array.isArray(kpt) && kpt.length === 2 && kpt.every((n) => Number.isInteger(n))
      ? ([kpt[0], kpt[1]] as [number, number])
      : undefined;
  return {
    file: file.path,
    root,
    names: namesFromYaml(file.path, data.names),
    splits,
    ...(kptShape ? { kptShape } : {}),
  };
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function namesFromYaml(path: string, value: unknown): Map<number, string> {
  const names = new Map<number, string>();
  if (Array.isArray(value)) {
    value.forEach((name, i) => {
      names.set(i, String(name));
    });
    return names;
  }
  if (value && typeof value === "object") {
    for (const [key, name] of Object.entries(value)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0) {
        throw new ImportSourceError(`${path}: names key "${key}" is not a class index (0, 1, ...)`);
      }
      names.set(index, String(name));
    }
    return names;
  }
  throw new ImportSourceError(`${path}: names must be a list or an {index: name} map`);
}

async function darknetConfig(file: SourceFile, paths: UploadPaths): Promise<YoloConfig | undefined> {
  const entries = new Map<string, string>();
  for (const line of (await file.text()).split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) entries.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const namesPath = entries.get("names");
  if (!namesPath) return undefined;
  // Darknet resolves from its own folder, usually the parent of data/ where obj.data lives.
  const dataDir = dirOf(file.path);
  const bases = [dataDir, dirOf(dataDir.slice(0, -1))];
  const namesFile = paths.file(namesPath, bases);
  if (!namesFile) throw new ImportSourceError(`${file.path}: names = ${namesPath} is not in the upload`);
  const splits = DARKNET_SPLITS.flatMap(([key, split]) => {
    const ref = entries.get(key);
    return ref ? [{ split, refs: [ref], bases }] : [];
  });
  return { file: file.path, root: dataDir, names: await namesFromFile(namesFile), splits };
}

/** One class name a line (darknet obj.names, classes.txt); trailing blank lines left out. */
async function namesFromFile(file: SourceFile): Promise<Map<number, string>> {
  const lines = (await file.text()).split(/\r?\n/).map((line) => line.trim());
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  return new Map(lines.map((name, i) => [i, name]));
}

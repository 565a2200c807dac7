// `labelport export download ID -o OUT [--artifact KEY]`: which file of an export to fetch, and
// where to put it. `-o x.csv` asks for the export's one .csv file (not a ZIP of everything);
// `-o dir/` (or an existing directory) writes the server's file name into that directory.
import { mkdir, stat } from "node:fs/promises";
import { basename, extname, join, sep } from "node:path";
import type { LabelportClient } from "../client/client.ts";

export interface Downloaded {
  path: string;
  bytes: number;
}

export async function downloadExport(
  client: LabelportClient,
  exportId: string,
  output: string,
  artifact?: string,
): Promise<Downloaded> {
  const intoDirectory = output.endsWith("/") || output.endsWith(sep) || (await isDirectory(output));
  const artifactKey = artifact ?? (intoDirectory ? "" : await artifactForExtension(client, exportId, output));
  let path = output;
  if (intoDirectory) {
    await mkdir(output, { recursive: true });
    const link = await client.exports.getExportDownload({ exportId, artifactKey });
    path = join(output, safeFileName(link.fileName, exportId));
  }
  const bytes = await client.exports.download(exportId, path, { artifactKey });
  return { path, bytes };
}

/**
 * The export's one artifact with the output's extension (`-o x.csv`), or "" for the whole export
 * (its single file, or a ZIP): for `.zip`, for no extension and when no artifact has it.
 */
async function artifactForExtension(client: LabelportClient, exportId: string, output: string): Promise<string> {
  const ext = extname(output).toLowerCase();
  if (ext === "" || ext === ".zip") return "";
  const { export: found } = await client.exports.getExport({ exportId });
  const matches = (found?.artifacts ?? []).filter((a) => extname(a.key).toLowerCase() === ext);
  if (matches.length > 1) {
    const keys = matches.map((a) => a.key);
    throw new Error(
      `export ${exportId} has ${matches.length} ${ext} files (${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", ..." : ""}); pick one with --artifact KEY`,
    );
  }
  return matches[0]?.key ?? "";
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The server's file name as one path segment: never a path that leaves the directory. */
function safeFileName(name: string, exportId: string): string {
  const base = basename(name.replaceAll("\\", "/"));
  return base === "" || base === "." || base === ".." ? `export-${exportId}` : base;
}

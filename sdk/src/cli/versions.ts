// `labelport versions list|create|get|delete|diff`: dataset versions (VersionService). DATASET and
// VERSION are ids or names, as the server takes them.
import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { LabelportClient } from "../client/client.ts";
import {
  type ChangeCounts,
  ChangeKind,
  type DatasetVersion,
  DatasetVersionSchema,
  type DiffVersionsResponse,
  DiffVersionsResponseSchema,
} from "../gen/labelport/v1/version_service_pb.ts";
import { EXIT, UsageError } from "./exit-codes.ts";
import { type Style, table } from "./table.ts";

export interface VersionsInvocation {
  client: LabelportClient;
  key: string;
  /** Positionals after `versions <command>`. */
  operands: readonly string[];
  description: string | undefined;
  json: boolean;
  print: (text: string) => void;
  style: Style;
}

const isoSeconds = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

function versionRow(v: DatasetVersion): string[] {
  return [
    v.id,
    v.name,
    String(v.itemCount),
    String(v.annotationCount),
    String(v.sizeBytes),
    v.createTime ? isoSeconds(timestampDate(v.createTime)) : "",
    v.createdBy,
  ];
}

const VERSION_HEADER = ["id", "name", "items", "annotations", "bytes", "created", "by"];

function versionText(v: DatasetVersion): string {
  return [
    `version ${v.id} "${v.name}" of dataset ${v.datasetId}`,
    v.description ? `  ${v.description}` : "",
    `  ${v.itemCount} items, ${v.annotationCount} annotations, ${v.sizeBytes} bytes, ${v.categories.length} categories`,
    `  created ${v.createTime ? isoSeconds(timestampDate(v.createTime)) : "?"} by ${v.createdBy || "?"}`,
    v.parentId ? `  parent ${v.parentId}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

const counts = (c: ChangeCounts | undefined) => `+${c?.added ?? 0n} -${c?.removed ?? 0n} ~${c?.changed ?? 0n}`;

/** The diff's counts, by category, then the changed items (at most what the server listed). */
export function diffText(d: DiffVersionsResponse): string {
  const lines = [
    `${d.from?.name ?? "?"} -> ${d.to?.name ?? "live dataset"}`,
    `  items        ${counts(d.items)}`,
    `  annotations  ${counts(d.annotations)}`,
    `  categories   ${counts(d.categories)}`,
  ];
  for (const c of d.byCategory) lines.push(`    ${c.categoryName || c.categoryId}: ${counts(c.annotations)}`);
  for (const change of d.changes) {
    const item = change.item === ChangeKind.UNSPECIFIED ? "" : ` item ${ChangeKind[change.item].toLowerCase()}`;
    const parts = [
      change.addedAnnotationIds.length ? `+${change.addedAnnotationIds.length}` : "",
      change.removedAnnotationIds.length ? `-${change.removedAnnotationIds.length}` : "",
      change.changedAnnotationIds.length ? `~${change.changedAnnotationIds.length}` : "",
    ].filter(Boolean);
    lines.push(`  ${change.itemId}:${item}${parts.length ? ` annotations ${parts.join(" ")}` : ""}`);
  }
  if (d.changesTruncated) lines.push("  ... more changed items (the counts above cover all)");
  return lines.join("\n");
}

export async function versionsCommand(inv: VersionsInvocation): Promise<number> {
  const { client, key, operands, print } = inv;
  const need = (index: number, what: string): string => {
    const value = operands[index];
    if (!value) throw new UsageError(`missing ${what}`, key);
    return value;
  };
  const json = (value: JsonValue) => {
    print(JSON.stringify(value, null, 2));
    return EXIT.ok;
  };
  const datasetId = need(0, "DATASET");
  switch (key) {
    case "versions list": {
      const versions: DatasetVersion[] = [];
      let pageToken = "";
      do {
        const page = await client.versions.listVersions({ datasetId, pageSize: 100, pageToken });
        versions.push(...page.versions);
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (inv.json) return json(versions.map((v) => toJson(DatasetVersionSchema, v)));
      print(table(VERSION_HEADER, versions.map(versionRow), inv.style));
      return EXIT.ok;
    }
    case "versions create": {
      const { version } = await client.versions.createVersion({
        datasetId,
        name: need(1, "NAME"),
        description: inv.description ?? "",
      });
      if (!version) throw new Error("server returned no version");
      if (inv.json) return json(toJson(DatasetVersionSchema, version));
      print(`created ${versionText(version)}`);
      return EXIT.ok;
    }
    case "versions get": {
      const { version } = await client.versions.getVersion({ datasetId, versionId: need(1, "VERSION") });
      if (!version) throw new Error("server returned no version");
      if (inv.json) return json(toJson(DatasetVersionSchema, version));
      print(versionText(version));
      return EXIT.ok;
    }
    case "versions delete": {
      const versionId = need(1, "VERSION");
      await client.versions.deleteVersion({ datasetId, versionId });
      if (inv.json) return json({ deleted: versionId });
      print(`deleted version ${versionId}`);
      return EXIT.ok;
    }
    case "versions diff": {
      const diff = await client.versions.diffVersions({
        datasetId,
        fromVersionId: need(1, "FROM version"),
        toVersionId: operands[2] ?? "",
      });
      if (inv.json) return json(toJson(DiffVersionsResponseSchema, diff));
      print(diffText(diff));
      return EXIT.ok;
    }
  }
  throw new UsageError(`unknown command "${key}"`, key);
}

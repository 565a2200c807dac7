// Exports from a dataset version (issue 19): the same bytes whenever they run, whatever was edited,
// deleted or added in the dataset since; the version is resolved (id or name) when the export is
// created, recorded on it, and a request id names one version.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AnnotationType,
  type Export,
  ExportStatus,
  ItemKind,
  ItemStatus,
  VersionService,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-export-versions-"));
let stack: JobStack;
let workers: PluginWorkers;
let versions: ReturnType<typeof createClient<typeof VersionService>>;
let datasetId = "";

const ITEMS = 120;

const item = (n: number, label: string) => ({
  id: `img-${String(n).padStart(4, "0")}`,
  kind: ItemKind.IMAGE,
  status: ItemStatus.APPROVED,
  split: n % 3 === 0 ? "val" : "train",
  media: { uri: `media/img-${n}.jpg`, fileName: `img-${n}.jpg`, width: 64, height: 48 },
  annotations: [
    {
      id: `img-${n}-a1`,
      type: AnnotationType.BBOX,
      categoryId: 1 + (n % 2),
      attributes: { label },
      geometry: { case: "bbox" as const, value: { x: n % 10, y: 2, width: 10, height: 8 } },
    },
  ],
});

async function finished(created: Export | undefined): Promise<Export> {
  let done = created;
  for (let i = 0; i < 1200; i++) {
    done = (await stack.exports.getExport({ exportId: created?.id ?? "" })).export;
    if (done?.status === ExportStatus.COMPLETED || done?.status === ExportStatus.FAILED) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(done?.status, done?.errorMessage).toBe(ExportStatus.COMPLETED);
  return done as Export;
}

/** Every file of a completed export by key. */
function filesOf(done: Export): Map<string, Buffer> {
  const root = join(storageRoot, done.path);
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split("\\").join("/"), readFileSync(path));
  }
  return files;
}

/** The manifest's artifacts as [key, sha256]: what says two exports wrote the same bytes. */
function artifactDigests(files: Map<string, Buffer>): Array<[string, string]> {
  const manifest = JSON.parse(files.get("manifest.json")?.toString("utf8") ?? "{}") as {
    artifacts: Array<{ key: string; sha256: string }>;
  };
  return manifest.artifacts.map((a) => [a.key, a.sha256]);
}

const exportVersion = async (versionId: string, requestId?: string) =>
  finished(
    (
      await stack.exports.createExport({
        datasetId,
        format: "jsonl",
        options: { items: true },
        saveOriginalFile: false,
        versionId,
        ...(requestId ? { requestId } : {}),
      })
    ).export,
  );

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack, ["@labelport/plugin-jsonl", "@labelport/plugin-json-snapshot"], {
    importers: false,
  });
  versions = createClient(
    VersionService,
    createConnectTransport({ baseUrl: stack.orchestrator.url, httpVersion: "1.1" }),
  );
  const { dataset } = await stack.datasets.createDataset({
    name: "versioned",
    categories: [{ name: "car" }, { name: "person" }],
  });
  datasetId = dataset?.id ?? "";
  await stack.items.upsertItems({ datasetId, items: Array.from({ length: ITEMS }, (_, n) => item(n, "june")) });
});

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

describe("export from a dataset version", () => {
  it("writes the same bytes before and after a large edit, a delete and a new category", async () => {
    const { version } = await versions.createVersion({ datasetId, name: "june", description: "training set" });
    const before = await exportVersion("june");
    expect(before.versionId).toBe(version?.id);
    expect(before.versionName).toBe("june");
    const first = filesOf(before);
    expect(first.get("items.jsonl")?.toString("utf8").split("\n").filter(Boolean)).toHaveLength(ITEMS);

    // Every item edited, a third deleted, a category added: the live dataset is another one now.
    await stack.items.upsertItems({ datasetId, items: Array.from({ length: ITEMS }, (_, n) => item(n, "july")) });
    await stack.items.deleteItems({
      datasetId,
      itemIds: Array.from({ length: ITEMS / 3 }, (_, n) => item(n * 3, "").id),
    });
    await stack.datasets.addCategories({ datasetId, categories: [{ name: "bicycle" }] });

    const after = await exportVersion(version?.id ?? "");
    const second = filesOf(after);
    expect(artifactDigests(second)).toEqual(artifactDigests(first));
    for (const [key, bytes] of first) {
      if (key !== "manifest.json") expect(second.get(key)?.equals(bytes), key).toBe(true);
    }

    // The live dataset's export is the edited one.
    const live = filesOf(
      await finished(
        (
          await stack.exports.createExport({
            datasetId,
            format: "jsonl",
            options: { items: true },
            saveOriginalFile: false,
          })
        ).export,
      ),
    );
    const liveItems = live.get("items.jsonl")?.toString("utf8").split("\n").filter(Boolean) ?? [];
    expect(liveItems).toHaveLength(ITEMS - ITEMS / 3);
    expect(liveItems[0]).toContain("july");
    expect(live.get("dataset.json")?.toString("utf8")).toContain("bicycle");
    expect(first.get("dataset.json")?.toString("utf8")).not.toContain("bicycle");
  });

  it("is what the developer exports API and the snapshot API export when they name a version", async () => {
    // The first test deleted a third of the items; the version "june" still has them all.
    const url = stack.orchestrator.url;
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const created = await post("/api/v1/developer/exports", {
      dataset_name: "versioned",
      name: "june for the team",
      format: "jsonl",
      version: "june",
      status_filter: "all",
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "june for the team", version: "june" });
    let detail: Record<string, unknown> = {};
    for (let i = 0; i < 1200 && detail.status !== "completed" && detail.status !== "failed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      detail = (await (
        await fetch(`${url}/api/v1/developer/exports/versioned/${encodeURIComponent("june for the team")}`)
      ).json()) as Record<string, unknown>;
    }
    expect(detail).toMatchObject({ status: "completed", version: "june", image_count: ITEMS });

    const snapshot = await post("/v1/ground-truths/snapshot", { datasetId, version: "june" });
    expect(snapshot.status).toBe(200);
    expect((await snapshot.json()) as unknown[]).toHaveLength(ITEMS);
    const missing = await post("/v1/ground-truths/snapshot", { datasetId, version: "no-such" });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toMatch(/version "no-such" not found/);
  });

  it("names a version that is not there, and refuses a request id reused for another version", async () => {
    const missing = await stack.exports
      .createExport({ datasetId, format: "jsonl", versionId: "no-such-version" })
      .catch((e) => ConnectError.from(e));
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    expect((missing as ConnectError).rawMessage).toMatch(/^version_id: version "no-such-version" not found/);

    await versions.createVersion({ datasetId, name: "july" });
    const once = await exportVersion("july", "request-1");
    const again = await exportVersion("july", "request-1");
    expect(again.id).toBe(once.id);
    const other = await stack.exports
      .createExport({ datasetId, format: "jsonl", versionId: "june", requestId: "request-1" })
      .catch((e) => ConnectError.from(e));
    expect((other as ConnectError).code).toBe(Code.AlreadyExists);
    expect((other as ConnectError).rawMessage).toMatch(/request_id: .* of version "july", not of version "june"/);
    const live = await stack.exports
      .createExport({ datasetId, format: "jsonl", requestId: "request-1" })
      .catch((e) => ConnectError.from(e));
    expect((live as ConnectError).code).toBe(Code.AlreadyExists);
  });
});

// Categories reach plugins whole: keypoint names and skeleton edges travel from MongoDB through the
// claim to the exporter, and land in the COCO file as COCO writes them.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnnotationType, ExportStatus, ItemKind, ItemStatus } from "@labelport/sdk/contracts";
import { loadExporter } from "@labelport/sdk/plugin-cli";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type JobStack, startJobStack } from "./support/job-stack.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-categories-"));
let stack: JobStack;
let nats: NatsConnection;
let worker: Worker;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  worker = await startWorker({ nats, exporter: await loadExporter("@labelport/plugin-coco"), log: quiet });
});

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

it("writes a keypoint category's names and skeleton into COCO", async () => {
  const { dataset } = await stack.datasets.createDataset({
    name: "poses",
    categories: [
      {
        name: "person",
        supercategory: "human",
        keypoints: ["nose", "left_eye", "right_eye"],
        skeleton: [
          { fromKeypoint: 1, toKeypoint: 2 },
          { fromKeypoint: 1, toKeypoint: 3 },
        ],
      },
    ],
  });
  const datasetId = dataset?.id ?? "";
  await stack.items.upsertItems({
    datasetId,
    items: [
      {
        id: "pose-1",
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: "train",
        media: { uri: "media/pose-1.jpg", fileName: "pose-1.jpg", width: 640, height: 480 },
        annotations: [
          {
            id: "pose-1-a",
            type: AnnotationType.KEYPOINTS,
            categoryId: 1,
            geometry: {
              case: "keypoints",
              value: {
                keypoints: [
                  { x: 10, y: 20, visibility: 2 },
                  { x: 12, y: 18, visibility: 2 },
                  { x: 8, y: 18, visibility: 1 },
                ],
              },
            },
          },
        ],
      },
    ],
  });
  const { export: created } = await stack.exports.createExport({
    datasetId,
    format: "coco",
    saveOriginalFile: false,
  });
  let final = created;
  for await (const { export: e } of stack.exports.watchExport({ exportId: created?.id ?? "" })) if (e) final = e;
  expect(final?.status, final?.errorMessage).toBe(ExportStatus.COMPLETED);
  const dir = join(storageRoot, final?.path ?? "");
  const instances = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /instances.*\.json$/.test(f));
  expect(instances).toHaveLength(1);
  const coco = JSON.parse(readFileSync(join(dir, instances[0] ?? ""), "utf8"));
  expect(coco.categories).toEqual([
    {
      id: 1,
      name: "person",
      supercategory: "human",
      keypoints: ["nose", "left_eye", "right_eye"],
      skeleton: [
        [1, 2],
        [1, 3],
      ],
    },
  ]);
  expect(coco.annotations[0].keypoints).toEqual([10, 20, 2, 12, 18, 2, 8, 18, 1]);
});

// The coordinating side of a split export. The worker that claimed the job plans shards (item-id
// ranges of about equal annotation counts, from the orchestrator's SplitItems), publishes one task
// per shard for any worker of the format, waits until every shard's result is in storage, then
// runs the join. Storage is the record of what is done: a lost message costs a poll, never a shard.
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { headers, type JetStreamClient, type NatsConnection } from "nats";
import type { ExportLogger } from "../exporter.ts";
import { type ItemRange, ItemService } from "../gen/labelport/v1/item_service_pb.ts";
import { type ExportJob, ExportShardTaskSchema } from "../gen/labelport/v1/plugin_pb.ts";
import {
  type RunExportInput,
  type RunExportResult,
  readShardFailure,
  readShardResult,
  runExport,
  runExportJoin,
  SHARD_DONE,
  SHARD_FAILED,
  ShardNamesCollideError,
} from "../run-export.ts";
import { SHARDS_DIR, shardPartKey } from "../shard-parts.ts";
import { publishRetrying } from "./publish-retry.ts";
import { Streams, Subjects, shardConsumerName } from "./subjects.ts";
import { injectTraceContext, traceHeaders } from "./tracing.ts";

/**
 * Annotations per shard when the export does not say how many shards (CreateExportRequest.shards
 * 0) and at least two workers' shard loops are free to take them.
 */
export const SHARD_ANNOTATIONS = 2_000_000;
/** How often the coordinator looks in storage for finished shards, news or not. */
const POLL_MS = 2000;

export interface SplitExportOptions {
  nats: NatsConnection;
  js: JetStreamClient;
  job: ExportJob;
  /** The coordinator's attempt (its claim's). */
  attempt: number;
  /** CreateExportRequest.shards: 0 by size, 1 never, K shards. */
  requested: number;
  /** Annotations per shard when `requested` is 0. */
  shardAnnotations: number;
  log: ExportLogger;
  /** Items and annotations done over all shards so far. */
  onProgress: (done: { items: number; annotations: number }) => void;
  /** How long a shard task's publish may wait out a stream leader election. */
  publishWithinMs: number;
}

/** What a shard's worker tells the coordinator (core NATS; storage stays the record). */
export interface ShardNews {
  attempt: number;
  index: number;
  /** Items and annotations done by this run of the shard. */
  items: number;
  annotations: number;
  state: "running" | "done" | "failed";
}

/**
 * Runs the export split in shards and joined, or returns null when it is not worth splitting (one
 * range, or no plan could be made): the caller then runs it whole.
 */
export async function exportInShards<Options>(
  input: RunExportInput<Options>,
  split: SplitExportOptions,
): Promise<RunExportResult | null> {
  const ranges = await planShards(input, split);
  if (!ranges || ranges.length < 2) return null;
  const { signal, log } = input;
  const count = ranges.length;
  const format = input.export.format;
  await input.storage.deletePrefix(`${input.prefix}/`);
  signal.throwIfAborted();
  const news = split.nats.subscribe(Subjects.shardNews(input.export.id));
  const done = new Map<number, { items: number; annotations: number }>();
  const published: number[] = [];
  let finished = false;
  try {
    for (const [index, range] of ranges.entries()) {
      const task = create(ExportShardTaskSchema, {
        export: input.export,
        job: split.job,
        attempt: split.attempt,
        index,
        count,
        range,
      });
      // The shard's span continues the coordinator's trace.
      const taskHeaders = headers();
      injectTraceContext(taskHeaders);
      const ack = await publishRetrying(
        split.js,
        Subjects.shards(format),
        toBinary(ExportShardTaskSchema, task),
        { msgID: `${input.export.id}.${split.attempt}.${index}`, headers: taskHeaders },
        { withinMs: split.publishWithinMs, signal },
      );
      published.push(ack.seq);
    }
    log.info(`split into ${count} shards`, {
      shards: count,
      annotations: ranges.map((range) => Number(range.annotations)),
    });
    const progress = () => {
      let items = 0;
      let annotations = 0;
      for (const shard of done.values()) {
        items += shard.items;
        annotations += shard.annotations;
      }
      split.onProgress({ items, annotations });
    };
    const pending = new Set(ranges.keys());
    const tag = (index: number) => shardTag(split.attempt, ranges[index] as ItemRange);
    // News wakes the wait early; the poll finds what news was lost.
    let wake: (() => void) | undefined;
    void (async () => {
      for await (const message of news) {
        const item = parseNews(message.data);
        if (!item || item.attempt !== split.attempt || !pending.has(item.index)) continue;
        done.set(item.index, { items: item.items, annotations: item.annotations });
        progress();
        if (item.state !== "running") wake?.();
      }
    })();
    while (pending.size > 0) {
      // One listing a round, then only the results that are there (an object store bills each request).
      const present = new Set<string>();
      for await (const object of input.storage.list(`${input.prefix}/${SHARDS_DIR}/`)) present.add(object.key);
      for (const index of [...pending]) {
        if (present.has(shardPartKey(input.prefix, index, SHARD_DONE))) {
          const result = await readShardResult(input.storage, input.prefix, index);
          if (result && result.tag === tag(index)) {
            pending.delete(index);
            done.set(index, { items: result.items, annotations: result.annotations });
            continue;
          }
        }
        if (present.has(shardPartKey(input.prefix, index, SHARD_FAILED))) {
          const failure = await readShardFailure(input.storage, input.prefix, index);
          if (failure && failure.tag === tag(index)) {
            throw new ShardFailedError(`shard ${index + 1} of ${count}: ${failure.message}`);
          }
        }
      }
      progress();
      if (pending.size === 0) break;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(finish, POLL_MS);
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        function finish() {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          wake = undefined;
          resolve();
        }
        wake = finish;
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    finished = true;
    const { items: _items, totalItems: _total, ...joined } = input;
    try {
      return await runExportJoin({ ...joined, shards: count });
    } catch (err) {
      if (!(err instanceof ShardNamesCollideError)) throw err;
      log.warn(`${err.message}; exporting in one pass instead`);
      return await runExport(input);
    }
  } catch (err) {
    if (!finished) {
      // Failed, canceled or fenced: shards still queued must not start, running ones stop.
      // Named by attempt: a superseded coordinator must not stop the shards of the newer one.
      split.nats.publish(Subjects.shardStop(input.export.id), String(split.attempt));
      const jsm = await split.nats.jetstreamManager().catch(() => undefined);
      for (const seq of published) await jsm?.streams.deleteMessage(Streams.jobs, seq).catch(() => undefined);
    }
    // As runExport does: a failed export leaves no files (a fenced attempt's storage refuses, rightly).
    await input.storage.deletePrefix(`${input.prefix}/`).catch(() => undefined);
    throw err;
  } finally {
    news.unsubscribe();
  }
}

/** A shard failed for good (its last delivery, or an error another attempt cannot fix). */
export class ShardFailedError extends Error {
  override name = "ShardFailedError";
}

/** Which task a shard's result answers: a result of another attempt or range is not this shard's. */
export function shardTag(attempt: number, range: ItemRange): string {
  return `${attempt}:${range.afterId}:${range.lastId}`;
}

async function planShards<Options>(
  input: RunExportInput<Options>,
  split: SplitExportOptions,
): Promise<ItemRange[] | null> {
  // Left to the worker, an export is split only across workers that are free to take shards: on
  // one worker (or one machine's cores, already busy with StreamItems and MongoDB) a split costs
  // more than it saves (bench/shards.ts).
  if (split.requested === 0 && (await idleShardSlots(split.nats, input.export.format)) < 2) return null;
  const transport = createConnectTransport({ baseUrl: split.job.orchestratorUrl, httpVersion: "1.1" });
  const items = createClient(ItemService, transport);
  const exported = input.export;
  try {
    const plan = await items.splitItems(
      {
        datasetId: exported.datasetId,
        ...(exported.filter ? { filter: exported.filter } : {}),
        ...(split.job.snapshotTime ? { snapshotTime: split.job.snapshotTime } : {}),
        versionId: exported.versionId,
        ranges: split.requested,
        annotationsPerRange: BigInt(split.requested > 0 ? 0 : split.shardAnnotations),
      },
      { signal: input.signal, headers: { authorization: `Bearer ${split.job.token}`, ...traceHeaders() } },
    );
    return plan.ranges;
  } catch (err) {
    input.signal.throwIfAborted();
    input.log.warn("could not plan shards; exporting in one pass", { error: (err as Error).message });
    return null;
  }
}

/**
 * Shard loops of the format's workers waiting for a shard (pull requests on its consumer). A loop
 * renews its pull every second, so one look can miss it: the most of a few looks counts.
 */
async function idleShardSlots(nats: NatsConnection, format: string): Promise<number> {
  let most = 0;
  try {
    const jsm = await nats.jetstreamManager();
    for (let look = 0; look < 5 && most < 2; look++) {
      if (look > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      most = Math.max(most, (await jsm.consumers.info(Streams.jobs, shardConsumerName(format))).num_waiting);
    }
  } catch {
    // No consumer info (permissions, NATS away): not split.
  }
  return most;
}

function parseNews(data: Uint8Array): ShardNews | undefined {
  try {
    const news = JSON.parse(new TextDecoder().decode(data)) as Partial<ShardNews>;
    if (!Number.isSafeInteger(news.attempt) || !Number.isSafeInteger(news.index)) return undefined;
    return {
      attempt: news.attempt as number,
      index: news.index as number,
      items: Number(news.items) || 0,
      annotations: Number(news.annotations) || 0,
      state: news.state === "done" || news.state === "failed" ? news.state : "running",
    };
  } catch {
    return undefined;
  }
}

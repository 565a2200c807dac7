// Reads a job's items from the orchestrator's StreamItems, resuming after the last item seen
// if the stream breaks, so a plugin sees each item exactly once and in id order.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Item, ItemFilter } from "../gen/labelport/v1/dataset_pb.ts";
import { ItemService, StreamItemsRequestSchema } from "../gen/labelport/v1/item_service_pb.ts";

export interface ItemStreamOptions {
  baseUrl: string;
  token: string;
  datasetId: string;
  filter: ItemFilter | undefined;
  snapshotTime: Timestamp | undefined;
  signal: AbortSignal;
  batchSize?: number;
  /** Reconnect attempts after a broken stream (each resumes after the last item). */
  retries?: number;
}

const RETRYABLE = new Set([Code.Unavailable, Code.Internal, Code.Unknown, Code.DeadlineExceeded, Code.Aborted]);

export function createItemSource(options: ItemStreamOptions): () => AsyncIterable<Item> {
  const client = createClient(
    ItemService,
    // Loopback or a data-centre link: compressing every batch costs more CPU than it saves.
    createConnectTransport({
      baseUrl: options.baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: true,
      acceptCompression: [],
    }),
  );
  return async function* items() {
    let afterId = "";
    let failures = 0;
    for (;;) {
      try {
        const stream = client.streamItems(
          create(StreamItemsRequestSchema, {
            datasetId: options.datasetId,
            ...(options.filter ? { filter: options.filter } : {}),
            ...(options.snapshotTime ? { snapshotTime: options.snapshotTime } : {}),
            afterId,
            batchSize: options.batchSize ?? 500,
          }),
          { signal: options.signal, headers: { authorization: `Bearer ${options.token}` } },
        );
        for await (const response of stream) {
          for (const item of response.items) {
            afterId = item.id;
            yield item;
          }
          failures = 0;
        }
        return;
      } catch (err) {
        const connectErr = ConnectError.from(err);
        options.signal.throwIfAborted();
        if (!RETRYABLE.has(connectErr.code) || ++failures > (options.retries ?? 5)) throw connectErr;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** failures));
      }
    }
  };
}

// Reads a job's items from the orchestrator's StreamItems, resuming after the last item seen
// if the stream breaks, so a plugin sees each item exactly once and in id order.
import { create, createFileRegistry, type Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  type Timestamp,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Item, ItemFilter } from "../gen/labelport/v1/dataset_pb.ts";
import { ItemService, StreamItemsRequestSchema } from "../gen/labelport/v1/item_service_pb.ts";
import { decodeItem } from "./item-decoder.ts";
import { traceHeaders } from "./tracing.ts";

export interface ItemStreamOptions {
  baseUrl: string;
  token: string;
  datasetId: string;
  filter: ItemFilter | undefined;
  snapshotTime: Timestamp | undefined;
  /** The dataset version the job exports (its id); the orchestrator then ignores `snapshotTime`. */
  versionId?: string;
  signal: AbortSignal;
  /** One range of the items (a shard of a split export): after this id, up to `lastId` inclusive. */
  afterId?: string;
  lastId?: string;
  batchSize?: number;
  /** Reconnect attempts after a broken stream (each resumes after the last item). */
  retries?: number;
}

const RETRYABLE = new Set([Code.Unavailable, Code.Internal, Code.Unknown, Code.DeadlineExceeded, Code.Aborted]);

/**
 * StreamItemsResponse as the transport decodes it: `repeated bytes items = 1`, which is the same
 * wire format as `repeated Item items = 1`. Each item stays a slice of the response until the plugin
 * asks for it, then item-decoder.ts builds it: the reflective decoder was a quarter to a third of a
 * plugin's CPU, and a whole batch of decoded items (video tracks with hundreds of boxes each) took
 * two to three times the memory of its bytes.
 */
type ItemFrames = Message<"labelport.sdk.ItemFrames"> & { items: Uint8Array[] };

const ItemFramesSchema = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "labelport/sdk/item_frames.proto",
    package: "labelport.sdk",
    syntax: "proto3",
    messageType: [
      {
        name: "ItemFrames",
        field: [
          {
            name: "items",
            jsonName: "items",
            number: 1,
            label: FieldDescriptorProto_Label.REPEATED,
            type: FieldDescriptorProto_Type.BYTES,
          },
        ],
      },
    ],
  }),
  () => undefined,
).getMessage("labelport.sdk.ItemFrames") as GenMessage<ItemFrames>;

const streamItemFrames = { ...ItemService.method.streamItems, output: ItemFramesSchema };

export function createItemSource(options: ItemStreamOptions): () => AsyncIterable<Item> {
  // Loopback or a data-centre link: compressing every batch costs more CPU than it saves.
  const transport: Transport = createConnectTransport({
    baseUrl: options.baseUrl,
    httpVersion: "1.1",
    useBinaryFormat: true,
    acceptCompression: [],
    // The other fields of a response (snapshot_time) are not needed here.
    binaryOptions: { readUnknownFields: false },
  });
  return async function* items() {
    let afterId = options.afterId ?? "";
    let failures = 0;
    for (;;) {
      try {
        const request = create(StreamItemsRequestSchema, {
          datasetId: options.datasetId,
          ...(options.filter ? { filter: options.filter } : {}),
          ...(options.snapshotTime ? { snapshotTime: options.snapshotTime } : {}),
          ...(options.versionId ? { versionId: options.versionId } : {}),
          afterId,
          ...(options.lastId ? { lastId: options.lastId } : {}),
          batchSize: options.batchSize ?? 500,
        });
        const response = await transport.stream(
          streamItemFrames,
          options.signal,
          undefined,
          { authorization: `Bearer ${options.token}`, ...traceHeaders() },
          (async function* () {
            yield request;
          })(),
        );
        // One response read ahead while the plugin works through the current one, so the
        // orchestrator keeps encoding instead of waiting for the socket to drain.
        const responses = response.message[Symbol.asyncIterator]();
        let next = responses.next();
        try {
          for (;;) {
            next.catch(() => undefined);
            const result = await next;
            if (result.done) return;
            next = responses.next();
            for (const bytes of result.value.items) {
              const item = decodeItem(bytes);
              afterId = item.id;
              yield item;
            }
            failures = 0;
          }
        } finally {
          // Not awaited: it waits for the response read ahead, and a plugin that stops early
          // should not.
          responses.return?.().catch(() => undefined);
        }
      } catch (err) {
        const connectErr = ConnectError.from(err);
        options.signal.throwIfAborted();
        if (!RETRYABLE.has(connectErr.code) || ++failures > (options.retries ?? 5)) throw connectErr;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** failures));
      }
    }
  };
}

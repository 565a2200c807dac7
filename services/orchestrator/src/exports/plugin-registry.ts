// Registered plugins (the `plugins` collection): which export and import formats exist, and their
// option schemas.
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type PluginInfo, PluginInfoSchema } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";

interface PluginDoc {
  _id: string;
  name: string;
  version: string;
  formats: string[];
  /** Upload formats, for importer plugins (older documents lack it). */
  importFormats?: string[];
  optionsSchema: JsonObject;
  sdkRange: string;
  description: string;
  lastSeen: Date;
}

export interface PluginRegistry {
  register(info: PluginInfo): Promise<void>;
  list(): Promise<PluginInfo[]>;
  /** The plugin serving a format, or undefined. */
  forFormat(format: string): Promise<PluginInfo | undefined>;
  /** The importer reading an upload format, or undefined. */
  forImportFormat(format: string): Promise<PluginInfo | undefined>;
}

export function createPluginRegistry(db: Db): PluginRegistry {
  const plugins = db.collection<PluginDoc>("plugins");
  const toInfo = (doc: PluginDoc) =>
    create(PluginInfoSchema, {
      name: doc.name,
      version: doc.version,
      formats: doc.formats,
      importFormats: doc.importFormats ?? [],
      optionsSchema: doc.optionsSchema,
      sdkRange: doc.sdkRange,
      description: doc.description,
      lastSeenTime: timestampFromDate(doc.lastSeen),
    });
  return {
    async register(info) {
      await plugins.updateOne(
        { _id: info.name },
        {
          $set: {
            name: info.name,
            version: info.version,
            formats: info.formats,
            importFormats: info.importFormats,
            optionsSchema: info.optionsSchema ?? {},
            sdkRange: info.sdkRange,
            description: info.description,
            lastSeen: new Date(),
          },
        },
        { upsert: true },
      );
    },
    async list() {
      return (await plugins.find().sort({ _id: 1 }).toArray()).map(toInfo);
    },
    async forFormat(format) {
      const doc = await plugins.findOne({ formats: format }, { sort: { lastSeen: -1 } });
      return doc ? toInfo(doc) : undefined;
    },
    async forImportFormat(format) {
      const doc = await plugins.findOne({ importFormats: format }, { sort: { lastSeen: -1 } });
      return doc ? toInfo(doc) : undefined;
    },
  };
}

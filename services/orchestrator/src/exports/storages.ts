// The named storages exports can target ("local", and "s3" when configured).
import { resolve } from "node:path";
import type { StorageDriver } from "@labelport/sdk";
import { createStorage, type StorageConfig } from "@labelport/sdk/runtime";
import type { Config } from "../config.ts";
import { invalidArgument } from "../errors.ts";

export interface Storages {
  readonly defaultName: string;
  names(): string[];
  /** Driver for a storage name; InvalidArgument for an unknown one. */
  driver(name: string): StorageDriver;
  /**
   * What a plugin worker is told about a storage: never credentials. Claims travel over NATS, and
   * workers bring their own (see WorkerOptions.s3Credentials).
   */
  configOf(name: string): StorageConfig;
  dispose(): Promise<void>;
}

export function createStorages(config: Config): Storages {
  const configs = new Map<string, StorageConfig>();
  configs.set("local", { kind: "local", root: resolve(config.STORAGE_LOCAL_ROOT ?? `${config.DATA_DIR}/storage`) });
  if (config.S3_BUCKET) {
    configs.set("s3", {
      kind: "s3",
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      ...(config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID } : {}),
      ...(config.S3_SECRET_ACCESS_KEY ? { secretAccessKey: config.S3_SECRET_ACCESS_KEY } : {}),
    } as StorageConfig);
  }
  const drivers = new Map<string, StorageDriver>();
  const fullConfigOf = (name: string) => {
    const found = configs.get(name);
    if (!found)
      throw invalidArgument(`storage: unknown storage "${name}"; configured: ${[...configs.keys()].join(", ")}`);
    return found;
  };
  const configOf = (name: string): StorageConfig => {
    const full = fullConfigOf(name);
    if (full.kind !== "s3") return full;
    const { accessKeyId: _id, secretAccessKey: _secret, ...withoutCredentials } = full;
    return withoutCredentials;
  };
  return {
    defaultName: config.DEFAULT_STORAGE,
    names: () => [...configs.keys()],
    configOf,
    driver(name) {
      let driver = drivers.get(name);
      if (!driver) {
        driver = createStorage(fullConfigOf(name));
        drivers.set(name, driver);
      }
      return driver;
    },
    async dispose() {
      await Promise.all([...drivers.values()].map((d) => d.dispose()));
    },
  };
}

// Export jobs, plugins, downloads.
import { create } from "@bufbuild/protobuf";
import { ExportService, ListFormatsResponseSchema } from "@labelport/sdk/contracts";
import type { RegisterServices } from "../app.ts";
import { createPluginRegistry } from "./plugin-registry.ts";

export const registerExportServices: RegisterServices = (router, _rest, deps) => {
  const plugins = createPluginRegistry(deps.database.db);
  router.service(ExportService, {
    async listFormats() {
      return create(ListFormatsResponseSchema, { plugins: await plugins.list() });
    },
  });
};

// Datasets, items, annotations and imports.
import { DatasetService, ImportService, ItemService } from "@labelport/sdk/contracts";
import type { RegisterServices } from "../app.ts";

export const registerDataServices: RegisterServices = (router) => {
  router.service(DatasetService, {});
  router.service(ItemService, {});
  router.service(ImportService, {});
};

// The generated protobuf contracts (labelport.v1), re-exported as one module.
export * from "./gen/labelport/v1/auth_service_pb.ts";
export * from "./gen/labelport/v1/dataset_pb.ts";
export * from "./gen/labelport/v1/dataset_service_pb.ts";
export * from "./gen/labelport/v1/export_pb.ts";
export * from "./gen/labelport/v1/export_service_pb.ts";
export * from "./gen/labelport/v1/import_service_pb.ts";
export * from "./gen/labelport/v1/item_service_pb.ts";
export * from "./gen/labelport/v1/plugin_pb.ts";
export * from "./gen/labelport/v1/version_service_pb.ts";

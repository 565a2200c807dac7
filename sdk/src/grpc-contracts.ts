// gRPC's own health and reflection contracts (grpc.health.v1, grpc.reflection.v1 and v1alpha),
// generated with the rest: what a server or client of those standard services needs.
export * as healthV1 from "./gen/grpc/health/v1/health_pb.ts";
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.ts";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.ts";

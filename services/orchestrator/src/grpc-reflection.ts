// gRPC server reflection (grpc.reflection.v1 and the older v1alpha that many tools still ask for),
// answered from the descriptors protobuf-es generates: grpcurl, buf curl, grpcui, Postman and
// Evans discover the services without the .proto files. No maintained implementation exists for
// connect-es v2 / protobuf-es v2, hence this one. Public: the contracts are public too.
import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { reflectionV1, reflectionV1alpha } from "@labelport/sdk/grpc-contracts";

/** One reflection request, the same in v1 and v1alpha. */
type ReflectionQuery =
  | {
      case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices";
      value: string;
    }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: undefined; value?: undefined };

/** One reflection answer, the same in v1 and v1alpha. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** What reflection reveals: these services and every file they need, google/protobuf/* included. */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly fileOfSymbol = new Map<string, DescFile>();
  private readonly extensionsOf = new Map<string, Map<number, DescFile>>();
  private readonly serviceNames: string[];

  constructor(services: DescService[]) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))].sort();
    for (const service of services) this.addFile(service.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.name)) return;
    this.files.set(file.name, file);
    for (const type of nestedTypes(file)) {
      this.fileOfSymbol.set(type.typeName, file);
      if (type.kind === "service") {
        for (const method of type.methods) this.fileOfSymbol.set(`${type.typeName}.${method.name}`, file);
      } else if (type.kind === "extension") {
        const numbers = this.extensionsOf.get(type.extendee.typeName) ?? new Map<number, DescFile>();
        numbers.set(type.number, file);
        this.extensionsOf.set(type.extendee.typeName, numbers);
      }
    }
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  answer(query: ReflectionQuery): ReflectionAnswer {
    switch (query.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.serviceNames.map((name) => ({ name })) } };
      case "fileByFilename":
        return this.withDependencies(this.files.get(query.value), `no file named "${query.value}"`);
      case "fileContainingSymbol":
        return this.withDependencies(
          this.fileOfSymbol.get(query.value.replace(/^\./, "")),
          `no symbol "${query.value}": expected a fully-qualified name such as labelport.v1.ExportService`,
        );
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = query.value;
        return this.withDependencies(
          this.extensionsOf.get(containingType)?.get(extensionNumber),
          `no extension ${extensionNumber} of "${containingType}"`,
        );
      }
      case "allExtensionNumbersOfType": {
        if (!this.fileOfSymbol.has(query.value)) return notFound(`no message type "${query.value}"`);
        const numbers = [...(this.extensionsOf.get(query.value)?.keys() ?? [])];
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: query.value, extensionNumber: numbers } };
      }
      default:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "the request sets none of message_request's fields" },
        };
    }
  }

  /** The file and everything it imports, dependencies first. */
  private withDependencies(file: DescFile | undefined, missing: string): ReflectionAnswer {
    if (!file) return notFound(missing);
    const ordered: DescFile[] = [];
    const visit = (f: DescFile) => {
      if (ordered.includes(f)) return;
      for (const dependency of f.dependencies) visit(dependency);
      ordered.push(f);
    };
    visit(file);
    // The requested file first: some clients read the first entry as the answer.
    const files = [file, ...ordered.filter((f) => f !== file)];
    return {
      case: "fileDescriptorResponse",
      value: { fileDescriptorProto: files.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
    };
  }
}

function notFound(errorMessage: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

/** Serves both reflection versions; `services` are all the services on this port, these included. */
export function registerGrpcReflection(router: ConnectRouter, services: DescService[]): void {
  const index = new DescriptorIndex([...services, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection]);
  // The two versions' messages have the same fields, so one handler serves both.
  async function* serverReflectionInfo(
    requests: AsyncIterable<{ host: string; messageRequest: ReflectionQuery }>,
  ): AsyncGenerator<{ validHost: string; originalRequest: object; messageResponse: ReflectionAnswer }> {
    for await (const request of requests) {
      yield {
        validHost: request.host,
        originalRequest: request,
        messageResponse: index.answer(request.messageRequest),
      };
    }
  }
  router.service(reflectionV1.ServerReflection, { serverReflectionInfo });
  router.service(reflectionV1alpha.ServerReflection, { serverReflectionInfo });
}

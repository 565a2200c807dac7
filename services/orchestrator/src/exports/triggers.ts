// labelport.triggers.export: other systems create exports by publishing a CreateExportRequest
// (JSON or protobuf). The request id makes it idempotent; the reply carries the export id.
// With API_KEYS configured a trigger carries an editor's key in a NATS header (X-API-Key or
// Authorization: Bearer), as an HTTP request would; without keys the NATS permission to publish
// here is the only gate.
import { create, fromBinary, fromJsonString, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import {
  type CreateExportRequest,
  CreateExportRequestSchema,
  CreateExportResponseSchema,
  ExportSchema,
} from "@labelport/sdk/contracts";
import { Subjects } from "@labelport/sdk/runtime";
import { Match, type Msg, type Subscription } from "nats";
import type { Authenticator, Principal } from "../auth.ts";
import type { Context } from "../context.ts";
import { invalidArgument } from "../errors.ts";
import type { ExportJobs } from "./service.ts";

function decode(msg: Msg, isJson: boolean): CreateExportRequest {
  try {
    return isJson
      ? fromJsonString(CreateExportRequestSchema, msg.string())
      : fromBinary(CreateExportRequestSchema, msg.data);
  } catch (err) {
    throw invalidArgument(`not a CreateExportRequest: ${(err as Error).message}`);
  }
}

/** The caller of a trigger: the editor whose key it carries, or (auth off) the NATS trigger itself. */
function principalOf(msg: Msg, auth: Authenticator): Principal {
  if (!auth.enabled) return { name: "nats-trigger", role: "editor" };
  const headers: Record<string, string> = {};
  for (const name of ["x-api-key", "authorization"]) {
    const value = msg.headers?.get(name, Match.IgnoreCase);
    if (value) headers[name] = value;
  }
  return auth.authorize(headers, "editor", "CreateExport");
}

export interface TriggerOptions extends Pick<Context, "nats" | "log" | "auth"> {
  jobs: ExportJobs;
}

export function listenForTriggers(options: TriggerOptions): Subscription {
  const { nats, log, auth, jobs } = options;
  return nats.subscribe(Subjects.trigger, {
    queue: "orchestrator",
    callback: (_err, msg) => {
      const isJson = msg.data[0] === 0x7b; // "{"
      const reply = (data: Uint8Array | string) => {
        if (msg.reply) msg.respond(typeof data === "string" ? new TextEncoder().encode(data) : data);
      };
      (async () => {
        const principal = principalOf(msg, auth);
        const request = decode(msg, isJson);
        if (!request.requestId) {
          throw invalidArgument("request_id: required, it makes a trigger idempotent");
        }
        const exported = await jobs.create(request, principal);
        log.info({ exportId: exported.id, requestId: request.requestId }, "export triggered over NATS");
        reply(
          isJson
            ? JSON.stringify({ exportId: exported.id, export: toJson(ExportSchema, exported) })
            : toBinary(CreateExportResponseSchema, create(CreateExportResponseSchema, { export: exported })),
        );
      })().catch((err: unknown) => {
        const error = ConnectError.from(err);
        if (error.code === Code.Internal || error.code === Code.Unknown) log.error({ err }, "trigger failed");
        reply(JSON.stringify({ code: codeToString(error.code), message: error.rawMessage }));
      });
    },
  });
}

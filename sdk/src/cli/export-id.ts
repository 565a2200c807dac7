// Export ids as people type them: the full id, or a unique prefix of at least 4 characters (the
// console shows the first 8), resolved against the server's list of exports.
import { Code, ConnectError } from "@connectrpc/connect";
import type { LabelportClient } from "../client/client.ts";
import { UsageError } from "./exit-codes.ts";

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MIN_PREFIX = 4;
const PAGE_SIZE = 500;

export async function resolveExportId(client: LabelportClient, typed: string, command: string): Promise<string> {
  if (FULL_ID.test(typed)) return typed;
  if (typed.length < MIN_PREFIX) {
    throw new UsageError(`export id "${typed}" is too short: give at least ${MIN_PREFIX} characters`, command);
  }
  const prefix = typed.toLowerCase();
  const matches: string[] = [];
  let pageToken = "";
  do {
    const page = await client.exports.listExports({ pageSize: PAGE_SIZE, pageToken });
    for (const e of page.exports) if (e.id.toLowerCase().startsWith(prefix)) matches.push(e.id);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (matches.length === 1) return matches[0] as string;
  if (matches.length === 0) throw new ConnectError(`export "${typed}" not found`, Code.NotFound);
  throw new UsageError(
    `export id "${typed}" is ambiguous: ${matches.length} exports start with it (${matches.slice(0, 10).join(", ")}${matches.length > 10 ? ", ..." : ""}); give more characters`,
    command,
  );
}

// Opaque keyset page tokens: the last id of the previous page, never an offset.
import { invalidArgument } from "../errors.ts";

export function encodePageToken(lastId: string): string {
  return Buffer.from(JSON.stringify({ a: lastId })).toString("base64url");
}

export function decodePageToken(token: string): string | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString()) as unknown;
    if (typeof parsed === "object" && parsed !== null && typeof (parsed as { a?: unknown }).a === "string") {
      return (parsed as { a: string }).a;
    }
  } catch {
    // fall through
  }
  throw invalidArgument("page_token: not a token returned by this API");
}

export function pageSize(requested: number, fallback: number, max: number): number {
  if (requested === 0) return fallback;
  return Math.min(requested, max);
}

// The CLI's exit codes (documented in the README) and the one line of stderr each failure prints:
// a script can tell "fix your command" from "sign in" from "the server is down" without parsing text.
import { Code, ConnectError } from "@connectrpc/connect";

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** The command completed but lost data on the way (an import's dropped annotations). */
  losses: 3,
  auth: 4,
  notFound: 5,
  unavailable: 6,
} as const;

/** A command line the CLI cannot run as written; `command` names the help to show with it. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const isParseArgsError = (err: unknown): err is Error =>
  err instanceof Error && String((err as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS");

const CONNECT_EXIT: Partial<Record<Code, number>> = {
  [Code.Unauthenticated]: EXIT.auth,
  [Code.PermissionDenied]: EXIT.auth,
  [Code.NotFound]: EXIT.notFound,
  [Code.Unavailable]: EXIT.unavailable,
};

const firstSentence = (text: string) => text.split(/\.\s/)[0] ?? text;

export interface Failure {
  exitCode: number;
  message: string;
  /** Whether the command's usage should follow the message. */
  usage: boolean;
}

/** What a thrown error means for the user: its exit code and a message without raw status numbers. */
export function describeFailure(err: unknown, serverUrl: string): Failure {
  if (err instanceof UsageError) return { exitCode: EXIT.usage, message: err.message, usage: true };
  // Node's parser explains how to pass a positional that starts with "-"; its first sentence names the flag.
  if (isParseArgsError(err)) return { exitCode: EXIT.usage, message: firstSentence(err.message), usage: true };
  if (err instanceof ConnectError) {
    const exitCode = CONNECT_EXIT[err.code] ?? EXIT.failed;
    const message =
      exitCode === EXIT.unavailable
        ? `cannot reach the Labelport server at ${serverUrl} (${err.rawMessage}); is it running? LABELPORT_URL sets the address`
        : err.rawMessage;
    return { exitCode, message, usage: false };
  }
  return { exitCode: EXIT.failed, message: err instanceof Error ? err.message : String(err), usage: false };
}

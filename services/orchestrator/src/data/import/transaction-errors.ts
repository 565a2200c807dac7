// What an error from MongoDB says about an import's transaction: whether to import again with
// the undo journal, and whether a failed commit certainly left nothing behind.

interface ServerError {
  codeName?: string;
  code?: number;
  message?: string;
  hasErrorLabel?: (label: string) => boolean;
}

const labelled = (err: unknown, label: string) => (err as ServerError).hasErrorLabel?.(label) === true;

/** The storage engine's cache cannot hold the transaction's writes (during them or at commit). */
function tooLargeForCache(err: unknown): boolean {
  const e = err as ServerError;
  return (
    e.codeName === "TransactionTooLargeForCache" || e.code === 388 || /transaction is too large/i.test(e.message ?? "")
  );
}

/** Errors after which the same import is retried in journal mode instead of a transaction. */
export function transactionRefused(err: unknown): boolean {
  const e = err as ServerError;
  return (
    tooLargeForCache(err) ||
    e.code === 350 ||
    e.codeName === "TransactionExceededLifetimeLimitSeconds" ||
    e.code === 290 ||
    e.codeName === "NoSuchTransaction" ||
    e.code === 251 ||
    labelled(err, "TransientTransactionError")
  );
}

/**
 * A commit that failed this way did not commit: a transient error, or the server refusing it for
 * the cache (it writes the transaction's oplog entry at commit, and gave up). Any other failure
 * may have committed, and is left to recovery.
 */
export function commitCertainlyFailed(err: unknown): boolean {
  if (labelled(err, "UnknownTransactionCommitResult")) return false;
  return labelled(err, "TransientTransactionError") || tooLargeForCache(err);
}

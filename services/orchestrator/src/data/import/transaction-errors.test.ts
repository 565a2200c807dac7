import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { commitCertainlyFailed, transactionRefused } from "./transaction-errors.ts";

/** A server error as the driver raises it, labels included. */
function serverError(
  fields: { code: number; codeName: string; errmsg: string },
  labels: string[] = [],
): MongoServerError {
  const err = new MongoServerError({ ok: 0, ...fields });
  for (const label of labels) err.addErrorLabel(label);
  return err;
}

// The error an import's commit got on a busy 1 GB cache: no label, so it was taken for an
// unknown outcome (HTTP 500, left to recovery) where the server had refused the commit.
const cacheFullAtCommit = serverError({
  code: 388,
  codeName: "TransactionTooLargeForCache",
  errmsg:
    "WiredTigerRecordStore::insertRecord -31800: transaction is too large and will not fit in the storage engine cache",
});

describe("transaction errors", () => {
  it("take a commit the cache refused for one that did not happen, to be retried with the journal", () => {
    expect(commitCertainlyFailed(cacheFullAtCommit)).toBe(true);
    expect(transactionRefused(cacheFullAtCommit)).toBe(true);
  });

  it("leave a commit of unknown outcome to recovery, whatever else it says", () => {
    const unknown = serverError({ code: 388, codeName: "TransactionTooLargeForCache", errmsg: "x" }, [
      "UnknownTransactionCommitResult",
    ]);
    expect(commitCertainlyFailed(unknown)).toBe(false);
    const writeConcern = serverError({ code: 64, codeName: "WriteConcernFailed", errmsg: "waiting for replication" });
    expect(commitCertainlyFailed(writeConcern)).toBe(false);
  });

  it("take a transient error for a commit that did not happen", () => {
    const transient = serverError({ code: 112, codeName: "WriteConflict", errmsg: "conflict" }, [
      "TransientTransactionError",
    ]);
    expect(commitCertainlyFailed(transient)).toBe(true);
    expect(transactionRefused(transient)).toBe(true);
  });
});

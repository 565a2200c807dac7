// Resolves imports left `running` by a process that died: a transaction that committed (its
// marker exists) is completed; otherwise the orphaned transaction is killed or the undo journal
// replayed, and the entry is marked rolled_back (failed for non-atomic imports).
import type { Db, Document } from "mongodb";
import type { Logger } from "../../logger.ts";
import { markedAnnotationWrite } from "../annotation-writes.ts";
import { Collections } from "../model.ts";
import { finishImport, type ImportDoc, type ImportOutcome, type Instance, importsOf, thisHost } from "./history.ts";
import { undoJournal } from "./writer.ts";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True when the process that owns a running import is gone. */
export function ownerIsDead(
  doc: ImportDoc,
  instance: Instance,
  staleMs: number,
  now = Date.now(),
  active?: ReadonlySet<string>,
): boolean {
  const owner = doc.owner;
  if (!owner) return true;
  // Ours: alive while this process still runs it (an import whose ending failed to record is not).
  if (owner.instanceId === instance.instanceId) return active !== undefined && !active.has(doc._id);
  if (owner.host === thisHost) {
    // Same host: our own pid under another instance id is an earlier incarnation (e.g. PID 1 in a container).
    if (owner.pid === process.pid || !pidAlive(owner.pid)) return true;
  }
  return (doc.heartbeatAt?.getTime() ?? 0) < now - staleMs;
}

export async function recoverImports(
  db: Db,
  log: Logger,
  instance: Instance,
  staleMs: number,
  active?: ReadonlySet<string>,
): Promise<{ completed: number; rolledBack: number }> {
  const imports = importsOf(db);
  let completed = 0;
  let rolledBack = 0;
  for (const doc of await imports.find({ status: "running" }).toArray()) {
    if (!ownerIsDead(doc, instance, staleMs, Date.now(), active)) continue;
    // Claim it, so two instances never resolve the same import.
    const claimed = await imports.findOneAndUpdate(
      { _id: doc._id, status: "running", heartbeatAt: doc.heartbeatAt ?? { $exists: false } },
      { $set: { owner: instance, heartbeatAt: new Date() } },
    );
    if (!claimed) continue;
    const marker = await db.collection(Collections.importCommits).findOne({ _id: doc._id as never });
    if (marker) {
      await finishImport(db, doc._id, marker.outcome as ImportOutcome);
      await db.collection(Collections.importCommits).deleteOne({ _id: doc._id as never });
      log.info({ importId: doc._id }, "recovered a committed import");
      completed++;
      continue;
    }
    if (doc.lsid) {
      // The dead process's transaction would linger until its lifetime ends; end it now.
      await db
        .admin()
        .command({ killSessions: [doc.lsid as Document] })
        .catch((err: unknown) => log.debug({ err }, "killSessions failed"));
    }
    const undo = () => undoJournal(db, doc._id);
    const restored = doc.datasetId ? await markedAnnotationWrite(db, doc.datasetId, undo) : await undo();
    const atomic = doc.options?.transaction?.atomic !== false;
    const who = doc.owner ? `process ${doc.owner.pid} on ${doc.owner.host}` : "its process";
    await finishImport(db, doc._id, {
      status: atomic ? "rolled_back" : "failed",
      success: false,
      itemsImported: 0,
      itemsSkipped: 0,
      warnings: doc.warnings ?? [],
      errors: [
        {
          line: 0,
          type: "interrupted",
          message: `The import was interrupted (${who} stopped)`,
        },
      ],
      conflicts: doc.conflicts ?? [],
      warningCount: doc.warningCount ?? 0,
      errorCount: 1,
      conflictCount: doc.conflictCount ?? 0,
      ...(doc.mode ? { mode: doc.mode } : {}),
      processedLines: doc.processedLines ?? 0,
      errorMessage: atomic
        ? `The import was interrupted (${who} stopped); it was rolled back${restored > 0 ? ` (${restored} documents restored from the journal)` : ""}`
        : `The import was interrupted (${who} stopped); lines before line ${(doc.processedLines ?? 0) + 1} may have been imported`,
      completedAt: new Date(),
    });
    log.warn({ importId: doc._id, restored, atomic }, "rolled back an interrupted import");
    rolledBack++;
  }
  return { completed, rolledBack };
}

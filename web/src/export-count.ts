// The live count under the export form: what GetExportStats says the current choice selects
// (items, annotations, estimated size), asked again a moment after the last edit.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetExportStatsRequestSchema } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx } from "./context.ts";
import { bytes, count, h, render } from "./dom.ts";

const DEBOUNCE_MS = 300;

export type StatsRequest = MessageInitShape<typeof GetExportStatsRequestSchema>;

export interface LiveCount {
  element: HTMLElement;
  /** Counts `request` after a short pause; a newer call replaces an older one still waiting or running. */
  update(request: StatsRequest | undefined): void;
  stop(): void;
}

export function liveCount(ctx: Ctx): LiveCount {
  const element = h("p", { id: "export-count", class: "export-count", "aria-live": "polite" });
  let timer: number | undefined;
  let running: AbortController | undefined;
  const stop = () => {
    window.clearTimeout(timer);
    running?.abort();
  };
  return {
    element,
    stop,
    update(request) {
      stop();
      if (!request) {
        render(element, "");
        return;
      }
      element.classList.add("counting");
      timer = window.setTimeout(async () => {
        const abort = new AbortController();
        running = abort;
        try {
          const stats = await ctx.api.exports.getExportStats(request, { signal: abort.signal });
          if (abort.signal.aborted) return;
          element.dataset.items = String(stats.itemCount);
          element.dataset.annotations = String(stats.annotationCount);
          render(
            element,
            h("strong", null, `${count(stats.itemCount)} items`),
            `, ${count(stats.annotationCount)} annotations, about ${bytes(stats.totalSize)}`,
            stats.warning ? h("span", { class: "notice" }, ` ${stats.warning}`) : null,
          );
        } catch (err) {
          if (!abort.signal.aborted)
            render(element, h("span", { class: "error" }, `Could not count: ${messageOf(err)}`));
        } finally {
          if (running === abort) element.classList.remove("counting");
        }
      }, DEBOUNCE_MS);
    },
  };
}

// axe-core run inside the page under test: the WCAG 2.2 A/AA rules, reported as one readable list
// so a failing test says which element breaks which rule.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

export interface A11yViolation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** The violations axe finds in the page as it is now, every impact level. */
export async function a11yViolations(page: Page): Promise<A11yViolation[]> {
  // Evaluated, not added as a script tag: the console's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate<boolean>('"axe" in window'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const axe = (globalThis as unknown as { axe: { run(opts: unknown): Promise<AxeResults> } }).axe;
    interface AxeResults {
      violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
    }
    const results = await axe.run({ runOnly: { type: "tag", values: tags } });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? "unknown",
      help: v.help,
      targets: v.nodes.map((n) => n.target.map(String).join(" ")),
    }));
  }, WCAG_TAGS);
}

/** Throws, listing them, when axe finds serious or critical violations (what issue 18 forbids). */
export async function expectNoSeriousA11yViolations(page: Page, view: string): Promise<void> {
  const serious = (await a11yViolations(page)).filter((v) => v.impact === "serious" || v.impact === "critical");
  if (serious.length === 0) return;
  const lines = serious.map((v) => `- ${v.impact} ${v.id}: ${v.help}\n    ${v.targets.slice(0, 5).join("\n    ")}`);
  throw new Error(`accessibility violations in ${view}:\n${lines.join("\n")}`);
}

/** Fails when the page scrolls sideways at its current viewport (issue 18: none at 390 px). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
}

// What the views share: the API, the session, notices, and a cached dataset list.
import type { Dataset } from "@labelport/sdk/contracts";
import type { Api } from "./api.ts";
import type { Session } from "./session.ts";

export type ViewName = "datasets" | "exports" | "imports";

export interface Ctx {
  api: Api;
  session: Session;
  /** A short message in the corner; errors stay longer. */
  notify(message: string, kind?: "info" | "error"): void;
  /** Switches view; `params` go into the hash (e.g. a dataset to preselect). */
  go(view: ViewName, params?: Record<string, string>): void;
  /** Every dataset (cached until `fresh`). */
  datasets(fresh?: boolean): Promise<Dataset[]>;
}

export interface View {
  readonly name: ViewName;
  readonly title: string;
  readonly element: HTMLElement;
  /** Called when shown, on Refresh, and after the server is back. */
  show(params: URLSearchParams): Promise<void>;
  hide(): void;
  /** The role changed: re-render what depends on it. */
  roleChanged(): void;
}

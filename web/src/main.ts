// The Labelport web console: a header with who is signed in (as the server says), three views (datasets, exports,
// imports) switched by the URL hash, and a banner while the server cannot be reached.
import "./style.css";
import type { Dataset } from "@labelport/sdk/contracts";
import { createApi, messageOf, troubleOf } from "./api.ts";
import type { Ctx, View, ViewName } from "./context.ts";
import { datasetsView } from "./datasets.ts";
import { h, render } from "./dom.ts";
import { exportsView } from "./exports.ts";
import { importsView } from "./imports.ts";
import { createSession } from "./session.ts";
import { createSignIn, whoAmI } from "./sign-in.ts";

const RETRY_MS = 5000;

const session = createSession();
const banner = h("div", { id: "banner", class: "banner", role: "alert", hidden: true });
const toasts = h("div", { class: "toasts", "aria-live": "polite" });
const signIn = createSignIn(session, {
  signedIn: () => {
    // What was said to the previous key is no longer news.
    toasts.replaceChildren();
    void boot();
  },
  signedOut: () => render(main),
});
const nav = h("nav", { "aria-label": "Views" });
const main = h("main", { id: "main" });

let offline = false;
let retryTimer: number | undefined;

function goOffline(message: string, detail = "") {
  offline = true;
  render(
    banner,
    h("strong", null, message),
    detail ? h("span", null, ` ${detail}`) : null,
    h("span", { class: "muted" }, ` Retrying every ${RETRY_MS / 1000} s. `),
    h("button", { type: "button", onclick: () => void retry() }, "Retry now"),
  );
  banner.hidden = false;
  window.clearTimeout(retryTimer);
  retryTimer = window.setTimeout(() => void retry(), RETRY_MS);
}

function goOnline() {
  if (!offline) return;
  offline = false;
  window.clearTimeout(retryTimer);
  banner.hidden = true;
  void boot();
}

/** While offline: ask /healthz; back to normal only when MongoDB and NATS answer too. */
async function retry() {
  let health: { ok: boolean; detail: string };
  try {
    health = await api.health();
  } catch {
    goOffline("Cannot reach the Labelport server: it may be down or restarting.");
    return;
  }
  if (health.ok) goOnline();
  else goOffline("The Labelport server answers but is not ready.", health.detail);
}

const api = createApi(session, {
  offline: (message) => goOffline(message),
  online: goOnline,
  unauthenticated(message) {
    // Signed out already: the key panel is up, and nothing behind it should ask again.
    if (!session.identity && !session.key) return;
    const hadKey = session.key !== "";
    session.needsKey();
    render(main);
    signIn.open(hadKey ? `The server no longer accepts your key: ${message}` : "This server needs an API key.");
  },
});

const datasetCache: { list?: Promise<Dataset[]> | undefined } = {};

const ctx: Ctx = {
  api,
  session,
  notify(message, kind = "info") {
    // Short-lived, dismissible, and kept clear of the rows' buttons (style.css places them).
    const toast = h(
      "div",
      { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
      h("span", null, message),
      h(
        "button",
        { type: "button", class: "dismiss", "aria-label": "Dismiss notice", onclick: () => toast.remove() },
        "×",
      ),
    );
    toasts.append(toast);
    window.setTimeout(() => toast.remove(), kind === "error" ? 10_000 : 5000);
  },
  go(view, extra = {}) {
    const query = new URLSearchParams(extra).toString();
    location.hash = `#/${view}${query ? `?${query}` : ""}`;
  },
  datasets(fresh = false) {
    if (fresh || !datasetCache.list) {
      datasetCache.list = (async () => {
        const all: Dataset[] = [];
        let pageToken = "";
        do {
          const page = await api.datasets.listDatasets({ pageSize: 200, pageToken });
          all.push(...page.datasets);
          pageToken = page.nextPageToken;
        } while (pageToken && all.length < 2000);
        return all;
      })();
      datasetCache.list.catch(() => {
        datasetCache.list = undefined;
      });
    }
    return datasetCache.list;
  },
};

const views: View[] = [datasetsView(ctx), exportsView(ctx), importsView(ctx)];
let current: View | undefined;

function route(): { view: View; params: URLSearchParams } {
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  // `#/<view>/<id>`: one thing of the view (e.g. an export job's page), given to it as the `id` param.
  const [name = "", id] = path.split("/");
  const view = views.find((v) => v.name === (name as ViewName)) ?? (views[0] as View);
  const params = new URLSearchParams(query);
  if (id) params.set("id", decodeURIComponent(id));
  return { view, params };
}

function renderNav() {
  render(
    nav,
    views.map((v) =>
      h(
        "a",
        {
          href: `#/${v.name}`,
          class: v === current ? "active" : undefined,
          "aria-current": v === current ? "page" : undefined,
        },
        v.title,
      ),
    ),
  );
}

async function showRoute() {
  // Nothing shows behind the key prompt.
  if (!session.identity) {
    render(main);
    return;
  }
  const { view, params: query } = route();
  if (current && current !== view) current.hide();
  current = view;
  renderNav();
  render(main, view.element);
  try {
    await view.show(query);
  } catch (err) {
    if (troubleOf(err).kind === "other") ctx.notify(messageOf(err), "error");
  }
}

/** Asks the server who this tab's key is (or whether it needs one), then shows the current view. */
async function boot() {
  try {
    session.signIn(session.key, await whoAmI(session.key));
  } catch (err) {
    const trouble = troubleOf(err);
    if (trouble.kind === "offline") goOffline(trouble.message);
    else if (trouble.kind === "unauthenticated") {
      const hadKey = session.key !== "";
      session.needsKey();
      render(main);
      signIn.open(hadKey ? "The key kept for this tab is no longer accepted." : "This server needs an API key.");
    } else ctx.notify(trouble.message, "error");
    return;
  }
  signIn.close();
  await ctx.datasets(true).catch(() => undefined);
  await showRoute();
}

const refresh = h(
  "button",
  { type: "button", id: "refresh", hidden: true, onclick: () => void showRoute() },
  "Refresh",
);

session.onChange(() => {
  signIn.update();
  refresh.hidden = !session.identity;
  // Signed out, the views are not shown and must not call the server.
  if (session.identity) for (const view of views) view.roleChanged();
});

render(
  document.getElementById("app") as HTMLElement,
  h("header", null, h("h1", null, "Labelport"), nav, refresh, signIn.status),
  banner,
  signIn.panel,
  main,
  toasts,
);
signIn.update();
window.addEventListener("hashchange", () => void showRoute());
void boot();

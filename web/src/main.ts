// The Labelport web console: a header with the API key, three views (datasets, exports,
// imports) switched by the URL hash, and a banner while the server cannot be reached.
import "./style.css";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type Dataset, DatasetService } from "@labelport/sdk/contracts";
import { createApi, messageOf, troubleOf } from "./api.ts";
import type { Ctx, View, ViewName } from "./context.ts";
import { datasetsView } from "./datasets.ts";
import { h, render } from "./dom.ts";
import { exportsView } from "./exports.ts";
import { importsView } from "./imports.ts";
import { createSession, ROLES, type Role } from "./session.ts";

const RETRY_MS = 5000;

const session = createSession();
const banner = h("div", { id: "banner", class: "banner", role: "alert", hidden: true });
const toasts = h("div", { class: "toasts", "aria-live": "polite" });
const authArea = h("div", { class: "auth" });
const keyPanel = h("section", { class: "key-panel", hidden: true, "aria-label": "API key" });
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
    if (session.auth !== "on") session.setAuth("on");
    openKeyPanel(session.key ? `The server refused the key: ${message}` : "This server needs an API key.");
  },
});

const datasetCache: { list?: Promise<Dataset[]> | undefined } = {};

const ctx: Ctx = {
  api,
  session,
  notify(message, kind = "info") {
    const toast = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
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
  const view = views.find((v) => v.name === (path as ViewName)) ?? (views[0] as View);
  return { view, params: new URLSearchParams(query) };
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

function renderAuth() {
  if (session.auth === "off") {
    render(
      authArea,
      h("span", { class: "badge" }, "authentication off"),
      h("span", { class: "muted" }, " full access (loopback)"),
    );
    return;
  }
  if (!session.key) {
    render(authArea, h("button", { type: "button", onclick: () => openKeyPanel() }, "Enter API key"));
    return;
  }
  render(
    authArea,
    h("span", { class: "muted" }, "API key "),
    h("code", null, `…${session.key.slice(-4)}`),
    " ",
    h(
      "span",
      { class: `badge role-${session.role}`, id: "role", title: "the role this console acts with" },
      session.role,
    ),
    " ",
    h("button", { type: "button", onclick: () => openKeyPanel() }, "Change"),
    " ",
    h(
      "button",
      {
        type: "button",
        onclick: () => {
          session.signOut();
          openKeyPanel("Signed out.");
        },
      },
      "Sign out",
    ),
  );
}

function openKeyPanel(message = "") {
  const key = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    required: true,
    placeholder: "API key",
    value: session.key || undefined,
  });
  const role = h(
    "select",
    { id: "api-role" },
    ROLES.map((r) => h("option", { value: r }, r)),
  );
  role.value = session.key ? session.role : "viewer";
  const form = h(
    "form",
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (!key.value.trim()) return;
        session.signIn(key.value, role.value as Role);
        keyPanel.hidden = true;
        // What was said to the previous key is no longer news.
        toasts.replaceChildren();
        void boot();
      },
    },
    h("h2", null, "API key"),
    message ? h("p", { class: "notice" }, message) : null,
    h(
      "p",
      { class: "muted" },
      "Keys are sent as the x-api-key header and kept for this tab only. Pick the role the key was given: " +
        "it decides which buttons you see; the server checks every call and the console lowers the role when it refuses one.",
    ),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "Key"), key),
    h("div", { class: "field" }, h("label", { for: "api-role" }, "Role"), role),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Use this key"),
      session.key
        ? h("button", { type: "button", onclick: () => keyPanel.setAttribute("hidden", "") }, "Cancel")
        : null,
    ),
  );
  render(keyPanel, form);
  keyPanel.hidden = false;
  key.focus();
}

/** Learns whether auth is on (a key-less call is refused), then shows the current view. */
async function boot() {
  const anonymous = createClient(DatasetService, createConnectTransport({ baseUrl: location.origin }));
  try {
    await anonymous.listDatasets({ pageSize: 1 });
    session.setAuth("off");
    keyPanel.hidden = true;
  } catch (err) {
    const trouble = troubleOf(err);
    if (trouble.kind === "offline") {
      goOffline(trouble.message);
      return;
    }
    if (trouble.kind === "unauthenticated") {
      session.setAuth("on");
      if (!session.key) {
        openKeyPanel("This server needs an API key.");
        return;
      }
    }
  }
  await ctx.datasets(true).catch(() => undefined);
  await showRoute();
}

session.onChange(() => {
  renderAuth();
  for (const view of views) view.roleChanged();
});

render(
  document.getElementById("app") as HTMLElement,
  h(
    "header",
    null,
    h("h1", null, "Labelport"),
    nav,
    h(
      "button",
      { type: "button", id: "refresh", title: "Reload this view from the server", onclick: () => void showRoute() },
      "Refresh",
    ),
    authArea,
  ),
  banner,
  keyPanel,
  main,
  toasts,
);
renderAuth();
window.addEventListener("hashchange", () => void showRoute());
void boot();

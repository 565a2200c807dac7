// Signing in: the key panel and the header's name and role, both from the server's answer to
// AuthService.WhoAmI. A key is kept only once the server accepted it.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "@labelport/sdk/contracts";
import { troubleOf } from "./api.ts";
import { h, render } from "./dom.ts";
import { type Identity, isRole, type Session } from "./session.ts";

/** Who the server says `key` is (no key: an anonymous caller); throws what the call threw. */
export async function whoAmI(key: string): Promise<Identity> {
  const withKey: Interceptor = (next) => (req) => {
    if (key) req.header.set("x-api-key", key);
    return next(req);
  };
  const client = createClient(
    AuthService,
    createConnectTransport({ baseUrl: location.origin, interceptors: [withKey] }),
  );
  const res = await client.whoAmI({});
  if (!isRole(res.role)) throw new Error(`The server named a role this console does not know: "${res.role}".`);
  return { name: res.name, role: res.role, permissions: res.permissions, authEnabled: res.authEnabled };
}

export interface SignIn {
  /** The header's part: name and role with "Change key" and "Sign out", or "Sign in". */
  readonly status: HTMLElement;
  readonly panel: HTMLElement;
  open(message?: string): void;
  close(): void;
  /** Re-renders the header's part from the session. */
  update(): void;
}

export function createSignIn(session: Session, events: { signedIn(): void; signedOut(): void }): SignIn {
  const status = h("div", { class: "auth" });
  const panel = h("section", { class: "key-panel", hidden: true, "aria-labelledby": "key-panel-title" });
  /** Where focus goes back to when the panel closes. */
  let returnFocus: HTMLElement | null = null;

  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    const target =
      returnFocus?.isConnected && !returnFocus.closest("[hidden]")
        ? returnFocus
        : status.querySelector<HTMLElement>("button");
    target?.focus();
  }

  function open(message = "") {
    if (panel.hidden) {
      const active = document.activeElement;
      returnFocus = active instanceof HTMLElement && active !== document.body ? active : null;
    }
    const key = h("input", {
      id: "api-key",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": "api-key-help",
    });
    const problem = h("p", { id: "key-problem", class: "error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
    const form = h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          void check(key.value.trim());
        },
      },
      h("h2", { id: "key-panel-title" }, "Sign in with an API key"),
      message ? h("p", { class: "notice" }, message) : null,
      h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), key),
      h(
        "p",
        { id: "api-key-help", class: "muted small" },
        "The server tells the console your name and role. The key is kept for this browser tab only.",
      ),
      problem,
      h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: close }, "Cancel")),
    );

    async function check(candidate: string) {
      if (!candidate) {
        render(problem, "Enter the API key you were given.");
        key.focus();
        return;
      }
      submit.disabled = true;
      render(problem);
      try {
        const identity = await whoAmI(candidate);
        session.signIn(candidate, identity);
        returnFocus = null;
        close();
        events.signedIn();
      } catch (err) {
        const trouble = troubleOf(err);
        render(
          problem,
          trouble.kind === "unauthenticated"
            ? "That key was not accepted. Check it and try again."
            : `Could not check the key: ${trouble.message}`,
        );
        key.select();
      } finally {
        submit.disabled = false;
      }
    }

    render(panel, form);
    panel.hidden = false;
    key.focus();
  }

  function update() {
    const identity = session.identity;
    if (session.auth === "off") {
      render(
        status,
        h("span", { class: "badge" }, "Authentication off"),
        h("span", { class: "muted small" }, "full access from this computer"),
      );
      return;
    }
    if (!identity) {
      render(status, h("button", { type: "button", id: "sign-in", onclick: () => open() }, "Enter API key"));
      return;
    }
    render(
      status,
      h(
        "span",
        { class: "who" },
        h("span", { id: "whoami" }, identity.name),
        " ",
        h("span", { class: `badge role-${identity.role}`, id: "role" }, identity.role),
      ),
      h("button", { type: "button", onclick: () => open() }, "Change key"),
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            session.signOut();
            events.signedOut();
            open("You are signed out.");
          },
        },
        "Sign out",
      ),
    );
  }

  return { status, panel, open, close, update };
}

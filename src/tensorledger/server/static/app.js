// The explorer's shell: the hash router, the token and channel controls, and the one live
// block stream that pages subscribe to while they are shown.
import { ApiError, blockStream, channel, get, token } from "./api.js";
import { block, dashboard, jobs, transaction } from "./chain.js";
import { h } from "./dom.js";
import { analysis, dataset, lineage, model } from "./records.js";

const ROUTES = [
  [/^\/?$/, dashboard],
  [/^\/blocks\/(\d+)$/, block],
  [/^\/tx\/([^/]+)$/, transaction],
  [/^\/datasets\/([^/]+)$/, dataset],
  [/^\/models\/([^/]+)$/, model],
  [/^\/analyses\/([^/]+)$/, analysis],
  [/^\/lineage\/(dataset|model|analysis|any)\/([^/]+)$/, lineage],
  [/^\/jobs$/, jobs],
];

const main = document.getElementById("main");
const liveState = document.getElementById("live-state");
let listeners = new Set();
let closeStream = null;
let health = null;
let rendering = 0;

/** Parse the location hash into a path, decoded parameters and the query. */
export function parseHash(hashText) {
  const raw = hashText.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return { view, params: match.slice(1).map(decodeURIComponent), query: new URLSearchParams(search) };
  }
  return null;
}

function setLive(state) {
  liveState.dataset.state = state;
  liveState.textContent = { live: "Live", connecting: "Connecting…", offline: "Offline" }[state];
}

function startStream() {
  closeStream?.();
  if (health?.auth_required && !token.get()) {
    setLive("offline"); // nothing to stream until there is a token to stream with
    return;
  }
  closeStream = blockStream((b) => listeners.forEach((fn) => fn(b)), setLive);
}

function tokenForm(message) {
  const input = h("input", { id: "token-input", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    { class: "card token-form", "aria-labelledby": "token-h" },
    h("h1", { id: "token-h", tabindex: "-1" }, "Sign in with an API token"),
    message ? h("p", { class: "warning", role: "alert" }, message) : null,
    h("p", { class: "muted" }, "Ask your ledger's operator for a token (", h("code", null, "tensorledger serve token add"),
      "). It is kept in this tab only and sent as a bearer token."),
    h("label", { for: "token-input" }, "API token"),
    input,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Use token")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value);
    renderTokenStatus();
    renderChannels().then(() => {
      startStream();
      route();
    });
  });
  return form;
}

function renderTokenStatus() {
  const box = document.getElementById("token-status");
  if (token.get()) {
    const out = h("button", { type: "button", class: "link" }, "Forget token");
    out.addEventListener("click", () => {
      token.set("");
      renderTokenStatus();
      startStream();
      route();
    });
    box.replaceChildren(h("span", { class: "muted" }, "Token set · "), out);
  } else {
    box.replaceChildren(health?.auth_required ? h("a", { href: "#/" }, "Sign in") : h("span", { class: "muted" }, "Public read"));
  }
}

async function renderChannels() {
  const select = document.getElementById("channel-select");
  try {
    const info = await get("/info");
    const names = info.channels.length ? info.channels : [channel.get()];
    if (!names.includes(channel.get())) channel.set(names[0]);
    select.replaceChildren(...names.map((n) => h("option", { value: n, selected: n === channel.get() }, n)));
    document.getElementById("whoami").textContent = `${info.caller.identity} (${info.caller.scope})`;
  } catch {
    select.replaceChildren(h("option", { value: channel.get() }, channel.get()));
  }
}

async function route() {
  const ticket = ++rendering;
  listeners = new Set();
  const found = parseHash(location.hash);
  document.querySelectorAll("#site-nav a").forEach((a) => {
    const current = a.getAttribute("href") === (location.hash || "#/") || (a.getAttribute("href") === "#/" && !location.hash);
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (health?.auth_required && !token.get()) {
    main.replaceChildren(tokenForm());
    return;
  }
  if (!found) {
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Not found"), h("p", null, "No page here. ", h("a", { href: "#/" }, "Go to the dashboard.")));
    return;
  }
  main.setAttribute("aria-busy", "true");
  const live = (fn) => listeners.add(fn);
  try {
    const page = await found.view({ params: found.params, query: found.query, live });
    if (ticket !== rendering) return; // the user moved on while this page loaded
    main.replaceChildren(page);
    document.title = `${page.querySelector("h1")?.textContent ?? "Explorer"} · tensorledger`;
  } catch (err) {
    if (ticket !== rendering) return;
    if (err instanceof ApiError && err.status === 401) {
      main.replaceChildren(tokenForm(`The server refused the token: ${err.message}`));
    } else {
      const what = err instanceof ApiError ? `${err.status || "no answer"}: ${err.message}` : String(err);
      main.replaceChildren(h("h1", { tabindex: "-1" }, "Could not load this page"), h("p", { class: "warning", role: "alert" }, what));
    }
  } finally {
    main.removeAttribute("aria-busy");
  }
  main.querySelector("h1")?.focus({ preventScroll: true });
}

async function start() {
  try {
    health = await get("/health");
  } catch {
    health = { auth_required: true };
  }
  renderTokenStatus();
  await renderChannels();
  document.getElementById("channel-select").addEventListener("change", (event) => {
    channel.set(event.target.value);
    startStream();
    route();
  });
  startStream();
  window.addEventListener("hashchange", route);
  await route();
}

start();

// Building the page from data without innerHTML: every string from the ledger becomes a text
// node, so a dataset named "<script>" is shown, never run (the CSP forbids inline code too).

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/"}, "text", child, [more children]). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, same calling convention as `h`. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A hex hash cut to its first characters, the whole of it in a tooltip and for copying. */
export function hash(value, chars = 12) {
  if (!value) return h("span", { class: "muted" }, "—");
  const text = String(value);
  return h("code", { class: "hash", title: text }, text.length > chars ? `${text.slice(0, chars)}…` : text);
}

/** A timestamp as local date and time, with the exact RFC 3339 text in a tooltip. */
export function time(value) {
  if (!value) return h("span", { class: "muted" }, "—");
  const date = new Date(value);
  const text = Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  return h("time", { datetime: String(value), title: String(value) }, text);
}

/** A validation code as a coloured badge; VALID is the only good one. */
export function codeBadge(code) {
  return h("span", { class: `badge ${code === "VALID" ? "ok" : "bad"}` }, code);
}

/** A definition list from [term, description] pairs, skipping empty descriptions. */
export function dl(pairs, cls = "facts") {
  return h(
    "dl",
    { class: cls },
    pairs.filter(([, d]) => d !== undefined).map(([t, d]) => [h("dt", null, t), h("dd", null, d)]),
  );
}

/** A table with a caption, column headers and rows of cells (nodes or text). */
export function table(caption, headers, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    null,
    h("caption", null, caption),
    h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, rows.map((cells) => h("tr", null, cells.map((c) => h("td", null, c))))),
  );
}

/** A section with a heading. */
export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", null, title), ...children);
}

/** Pretty JSON in a scrollable block. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** Numbers shown to a sensible precision for people. */
export function num(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return String(value ?? "—");
  if (Number.isInteger(value)) return value.toLocaleString();
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  const text = value.toPrecision(5);
  return text.includes(".") && !text.includes("e") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

// Lineage graphs as inline SVG with a layered layout: rows by longest path from the root,
// order within a row by the mean position of each node's parents (one barycentre sweep).
import { s } from "./dom.js";

const NODE_W = 190;
const NODE_H = 46;
const GAP_X = 36;
const ROW_H = 104;
const PAD = 24;

/** The page a lineage node links to, by kind; ids and versions as the record pages take them. */
export function recordHref(node) {
  const [id, version] = String(node.ref).split("@");
  const page = { dataset: "datasets", model: "models", analysis: "analyses" }[node.kind];
  if (!page) return null;
  return `#/${page}/${encodeURIComponent(id)}${version ? `?v=${encodeURIComponent(version)}` : ""}`;
}

/** Rows of node ids: each node one row below its lowest parent (cycles cut after n passes). */
export function layers(graph) {
  const depth = new Map(graph.nodes.map((n) => [n.id, n.id === graph.root ? 0 : -1]));
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      const d = depth.get(e.from);
      if (d >= 0 && depth.has(e.to) && depth.get(e.to) < d + 1 && d + 1 < graph.nodes.length) {
        depth.set(e.to, d + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows = [];
  for (const n of graph.nodes) {
    const d = Math.max(depth.get(n.id), 0);
    (rows[d] ??= []).push(n.id);
  }
  const placed = new Map();
  return rows.filter(Boolean).map((row) => {
    const parents = (id) => graph.edges.filter((e) => e.to === id && placed.has(e.from)).map((e) => placed.get(e.from));
    const score = (id) => {
      const p = parents(id);
      return p.length ? p.reduce((a, b) => a + b, 0) / p.length : 0;
    };
    const ordered = [...row].sort((a, b) => score(a) - score(b));
    ordered.forEach((id, i) => placed.set(id, i - (ordered.length - 1) / 2));
    return ordered;
  });
}

/** The lineage response of GET /lineage/{kind}/{ref} as an accessible SVG figure. */
export function lineageSvg(graph) {
  const rows = layers(graph);
  const widest = Math.max(...rows.map((r) => r.length), 1);
  const base = Math.max(widest * (NODE_W + GAP_X) - GAP_X + 2 * PAD, 420);
  const height = rows.length * ROW_H - (ROW_H - NODE_H) + 2 * PAD;
  const pos = new Map();
  const rowRight = [];
  rows.forEach((row, r) => {
    const rowWidth = row.length * (NODE_W + GAP_X) - GAP_X;
    row.forEach((id, i) => {
      pos.set(id, { x: (base - rowWidth) / 2 + i * (NODE_W + GAP_X), y: PAD + r * ROW_H, row: r });
    });
    rowRight[r] = (base + rowWidth) / 2;
  });
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const edges = [];
  const seen = new Set();
  let detours = 0;
  let width = base;
  for (const e of graph.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    const key = `${e.from}>${e.to}`;
    if (!a || !b || seen.has(key)) continue;
    seen.add(key);
    if (b.row === a.row + 1) {
      edges.push(down(a, b, e.relation));
    } else {
      // Skipping rows (or going back up) would cut through other nodes: go round them on the right.
      const [lo, hi] = [Math.min(a.row, b.row), Math.max(a.row, b.row)];
      const outer = Math.max(...rowRight.slice(lo, hi + 1)) + 26 + 26 * detours++;
      width = Math.max(width, outer + 90);
      edges.push(around(a, b, outer, e.relation));
    }
  }
  const svg = s("svg", {
    class: "lineage",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-labelledby": "lineage-title",
  });
  const names = graph.nodes.map((n) => `${n.kind} ${n.label}`).join(", ");
  svg.append(
    s("title", { id: "lineage-title" }, `Lineage of ${byId.get(graph.root)?.label ?? graph.root}: ${names}`),
    s(
      "defs",
      null,
      s(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
      ),
    ),
    ...edges,
  );
  for (const n of graph.nodes) svg.append(node(n, pos.get(n.id), n.id === graph.root));
  return svg;
}

function edgeGroup(d, x, y, relation, anchor = "middle") {
  return s(
    "g",
    { class: "edge" },
    s("path", { d, "marker-end": "url(#arrow)" }),
    s("text", { x, y, "text-anchor": anchor, "dominant-baseline": "middle", class: "edge-label" }, relation),
  );
}

/** From the bottom of a node to the top of one in the next row. */
function down(a, b, relation) {
  const [x1, y1, x2, y2] = [a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y];
  const mid = (y1 + y2) / 2;
  return edgeGroup(`M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`, (x1 + x2) / 2, mid, relation);
}

/** From the right side of a node, along to column `outer`, and back into the right side of another. */
function around(a, b, outer, relation) {
  const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x + NODE_W, b.y + NODE_H / 2];
  const dir = y2 > y1 ? 1 : -1;
  const r = Math.min(12, Math.abs(y2 - y1) / 2);
  const d = `M${x1},${y1} H${outer - r} Q${outer},${y1} ${outer},${y1 + dir * r} `
    + `V${y2 - dir * r} Q${outer},${y2} ${outer - r},${y2} H${x2}`;
  return edgeGroup(d, outer + 6, (y1 + y2) / 2, relation, "start");
}

function node(n, p, isRoot) {
  const cls = `node kind-${n.kind}${n.missing ? " missing" : ""}${isRoot ? " root" : ""}`;
  const label = n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label;
  const sub = n.missing ? "not on the ledger" : `${n.kind}${n.owner ? ` · ${n.owner}` : ""}`;
  const body = s(
    "g",
    { class: cls, transform: `translate(${p.x},${p.y})` },
    s("title", null, `${n.kind} ${n.label}${n.hash ? `\nhash ${n.hash}` : ""}${n.owner ? `\nowner ${n.owner}` : ""}`),
    s("rect", { width: NODE_W, height: NODE_H, rx: 8 }),
    s("text", { x: 12, y: 19, class: "node-label" }, label),
    s("text", { x: 12, y: 36, class: "node-sub" }, sub),
  );
  const href = n.missing ? null : recordHref(n);
  return href ? s("a", { href, "aria-label": `${n.kind} ${n.label}` }, body) : body;
}

// Pages about registry records: datasets, models (with their training curve), analyses, and
// the lineage graph that links them. Records are shown as the chain stores them.
import { ch, seg } from "./api.js";
import { metricCharts } from "./chart.js";
import { dl, h, hash, json, num, section, table, time } from "./dom.js";
import { lineageSvg, recordHref } from "./graph.js";

const txLink = (id) => (id ? h("a", { href: `#/tx/${encodeURIComponent(id)}`, class: "mono", title: id }, `${id.slice(0, 16)}…`) : "—");

/** A `id@version` reference as a link to its record page. */
function refLink(kind, ref) {
  const href = recordHref({ kind, ref });
  return href ? h("a", { href }, ref) : ref;
}

function tags(record) {
  const entries = Object.entries(record.tags ?? {});
  return entries.length ? h("ul", { class: "tags" }, entries.map(([k, v]) => h("li", null, `${k}=${v}`))) : "none";
}

/** The chosen version (?v=N) of a list of versions, or the newest. */
function pick(versions, query) {
  const wanted = Number(query.get("v"));
  return versions.find((r) => r.version === wanted) ?? versions[versions.length - 1];
}

async function lineageSection(kind, ref) {
  const graph = await ch(`/lineage/${kind}/${seg(ref)}`);
  return section(
    "Lineage",
    h("p", { class: "muted" }, "Where this record came from and what was made from it, as recorded on the chain. Select a node to open it."),
    h("div", { class: "graph-scroll" }, lineageSvg(graph)),
    h("p", null, h("a", { href: `#/lineage/${kind}/${encodeURIComponent(ref)}` }, "Open the lineage page with every node's hash")),
  );
}

function versionNav(page, id, versions, current) {
  if (versions.length < 2) return null;
  return h(
    "nav",
    { class: "versions", "aria-label": "Versions" },
    "Versions: ",
    versions.map((r) =>
      r.version === current.version
        ? h("span", { class: "current", "aria-current": "page" }, `v${r.version}`)
        : h("a", { href: `#/${page}/${encodeURIComponent(id)}?v=${r.version}` }, `v${r.version}`),
    ),
  );
}

/** A dataset: its versions, the chosen version's manifest facts, schema and lineage. */
export async function dataset({ params, query }) {
  const { id, versions } = await ch(`/datasets/${seg(params[0])}`);
  const d = pick(versions, query);
  const ref = `${id}@${d.version}`;
  const schema = d.schema?.columns ?? [];
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Dataset ", h("span", { class: "record-id" }, ref)),
    versionNav("datasets", id, versions, d),
    section("Record", dl([
      ["Data root (Merkle)", hash(d.root, 64)],
      ["Manifest", hash(d.manifest, 64)],
      ["Size", `${num(d.size)} bytes`],
      ["Rows", num(d.rows)],
      ["Media type", d.mediaType ?? "—"],
      ["Encrypted", d.encrypted ? `yes (key id ${d.keyId})` : "no"],
      ["Parents", d.parents?.length ? h("span", null, d.parents.map((p, i) => [i ? ", " : "", refLink("dataset", p)])) : "none"],
      ["Tags", tags(d)],
      ["Owner", d.owner ?? "—"],
      ["Registered by", d.registeredBy ?? "—"],
      ["Transaction", txLink(d.txId)],
      ["Time", time(d.timestamp)],
    ])),
    section("Schema", table(`Columns of ${ref}`, ["column", "type"], schema.map((c) => [h("code", null, c), d.schema?.dtypes?.[c] ?? "—"]), "No schema recorded.")),
    await lineageSection("dataset", ref),
  );
}

/** A model: its checkpoints, the training curve, the chosen checkpoint's tensors and lineage. */
export async function model({ params, query }) {
  const { id, versions, metrics } = await ch(`/models/${seg(params[0])}`);
  const m = pick(versions, query);
  const ref = `${id}@${m.version}`;
  const charts = metricCharts(metrics ?? []);
  const rows = versions.map((r) => [
    h("a", { href: `#/models/${encodeURIComponent(id)}?v=${r.version}` }, `v${r.version}`),
    r.epoch ?? "—",
    Object.entries(r.metrics ?? {}).map(([k, v]) => `${k} ${num(v)}`).join(", ") || "—",
    hash(r.weightsRoot),
    txLink(r.txId),
    time(r.timestamp),
  ]);
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Model ", h("span", { class: "record-id" }, ref)),
    section("Training metrics", charts.length ? h("div", { class: "charts" }, charts) : h("p", { class: "muted" }, "No metrics recorded with the checkpoints.")),
    section("Checkpoints", table(`Anchored checkpoints of ${id}`, ["version", "epoch", "metrics", "weights root", "transaction", "time"], rows)),
    section(`Checkpoint v${m.version}`, dl([
      ["Weights root (Merkle)", hash(m.weightsRoot, 64)],
      ["Architecture", hash(m.architecture, 64)],
      ["Trained on", m.datasets?.length ? h("span", null, m.datasets.map((p, i) => [i ? ", " : "", refLink("dataset", p)])) : "none"],
      ["Parent checkpoint", m.parent ? refLink("model", m.parent) : "none"],
      ["Framework", m.framework ?? "—"],
      ["Owner", m.owner ?? "—"],
      ["Transaction", txLink(m.txId)],
    ]),
    table(`Tensors of ${ref}`, ["tensor", "shape", "dtype", "SHA-256"], (m.tensors ?? []).map((t) => [h("code", null, t.name), `[${(t.shape ?? []).join(", ")}]`, t.dtype, hash(t.sha256)]), "No tensors listed."),
    m.hyperparameters ? h("details", null, h("summary", null, "Hyperparameters"), json(m.hyperparameters)) : null),
    await lineageSection("model", ref),
  );
}

/** An analysis: method, inputs with their roots, the recorded result, and lineage. */
export async function analysis({ params }) {
  const a = await ch(`/analyses/${seg(params[0])}`);
  const result = a.result ?? {};
  const coefficients = Array.isArray(result.coefficients) && Array.isArray(result.columns)
    ? table("Coefficients as recorded", ["term", "coefficient", "std. error", "p-value"], result.columns.map((c, i) => [
        h("code", null, c), num(result.coefficients[i]), num(result.standard_errors?.[i]), num(result.p_values?.[i]),
      ]))
    : null;
  const scalars = Object.entries(result).filter(([, v]) => typeof v === "number");
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Analysis ", h("span", { class: "record-id" }, a.id)),
    section("Record", dl([
      ["Method", h("code", null, a.method)],
      ["Inputs", h("ul", { class: "plain" }, (a.inputs ?? []).map((i) => h("li", null, refLink("dataset", i.dataset), " root ", hash(i.root))))],
      ["Result hash", hash(a.resultHash, 64)],
      ["Package", a.package ?? "—"],
      ["Owner", a.owner ?? "—"],
      ["Transaction", txLink(a.txId)],
      ["Time", time(a.timestamp)],
    ])),
    section("Result", scalars.length ? dl(scalars.map(([k, v]) => [k, num(v)]), "facts compact") : null, coefficients,
      h("details", null, h("summary", null, "Parameters and full result"), json({ parameters: a.parameters, result }))),
    await lineageSection("analysis", a.id),
  );
}

/** The lineage page: the graph, and every node with its hash, owner and transaction. */
export async function lineage({ params }) {
  const [kind, ref] = params;
  const graph = await ch(`/lineage/${seg(kind)}/${seg(ref)}`);
  const rows = graph.nodes.map((n) => [
    n.missing ? h("span", { class: "badge bad" }, "missing") : h("span", { class: `badge kind-${n.kind}` }, n.kind),
    recordHref(n) && !n.missing ? h("a", { href: recordHref(n) }, n.label) : n.label,
    hash(n.hash),
    n.owner ?? "—",
    txLink(n.tx_id),
  ]);
  const edges = graph.edges.map((e) => [e.from, e.relation, e.to]);
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Lineage of ", h("span", { class: "record-id" }, graph.root)),
    section("Graph", h("div", { class: "graph-scroll" }, lineageSvg(graph))),
    section("Nodes", table("Every record in this lineage", ["kind", "record", "hash", "owner", "transaction"], rows)),
    section("Relations", table("Edges, from the record to the one it relates to", ["from", "relation", "to"], edges, "No relations recorded.")),
  );
}

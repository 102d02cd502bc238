// Pages about the chain itself: the dashboard, one block, one transaction, governance jobs.
import { ApiError, ch, seg } from "./api.js";
import { codeBadge, dl, h, hash, json, num, section, table, time } from "./dom.js";
import { verifyPanel } from "./verify.js";

const RECENT = 20;

/** Transactions per second over blocks (newest first): the span between their first times. */
export function txRate(blocks) {
  const timed = blocks.filter((b) => b.first_timestamp).map((b) => ({ t: Date.parse(b.first_timestamp), n: b.tx_count }));
  if (timed.length < 2) return null;
  const newest = Math.max(...timed.map((b) => b.t));
  const oldest = Math.min(...timed.map((b) => b.t));
  const seconds = (newest - oldest) / 1000;
  // The oldest block's transactions happened at the start of the span: count the rest.
  const txs = timed.reduce((a, b) => a + b.n, 0) - timed.find((b) => b.t === oldest).n;
  return seconds > 0 ? { perSecond: txs / seconds, seconds, blocks: timed.length } : null;
}

const blockLink = (n) => h("a", { href: `#/blocks/${n}` }, `#${n}`);
const txLink = (id) => h("a", { href: `#/tx/${encodeURIComponent(id)}`, class: "mono", title: id }, `${id.slice(0, 16)}…`);

function blockRow(b) {
  return [blockLink(b.number), num(b.tx_count), `${b.valid_count ?? "…"}/${b.tx_count}`, hash(b.data_hash), time(b.first_timestamp ?? b.time)];
}

function recordList(title, items, page, describe) {
  const rows = items.map((r) => [h("a", { href: `#/${page}/${encodeURIComponent(r.id)}` }, r.id), r.version ?? "—", describe(r), r.owner ?? "—"]);
  return section(title, table(title, ["id", "version", "what", "owner"], rows, `No ${title.toLowerCase()} on this channel.`));
}

/** The dashboard: figures at a glance, records, and recent blocks that grow live. */
export async function dashboard({ live }) {
  const [info, page, datasets, models, analyses] = await Promise.all([
    ch(""),
    ch(`/blocks?limit=${RECENT}`),
    ch("/datasets").catch(() => ({ datasets: [] })),
    ch("/models").catch(() => ({ models: [] })),
    ch("/analyses").catch(() => ({ analyses: [] })),
  ]);
  const blocks = [...page.blocks];
  const height = h("span", { id: "stat-height" }, num(info.height));
  const txCount = h("span", { id: "stat-txs" }, num(info.tx_count));
  const rate = h("span", { id: "stat-rate" });
  const showRate = () => {
    const r = txRate(blocks);
    rate.replaceChildren(r ? `${Number(r.perSecond.toPrecision(3))} tx/s` : "—");
    rate.title = r ? `over the last ${r.blocks} blocks (${num(r.seconds)} s)` : "not enough timed blocks";
  };
  showRate();
  const stat = (label, value, note) => h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), note ? h("div", { class: "stat-note" }, note) : null);
  const tbody = h("tbody", { id: "recent-blocks" }, blocks.map((b) => h("tr", { "data-block": b.number }, blockRow(b).map((c) => h("td", null, c)))));
  const recent = h(
    "table",
    null,
    h("caption", null, "Recent blocks, newest first; new ones appear as they are committed"),
    h("thead", null, h("tr", null, ["block", "transactions", "valid", "data hash", "time"].map((t) => h("th", { scope: "col" }, t)))),
    tbody,
  );

  const totals = { height: info.height, txs: info.tx_count };
  live(async (b) => {
    if (tbody.querySelector(`tr[data-block="${b.number}"]`)) return;
    totals.height = Math.max(totals.height, b.number + 1);
    height.textContent = num(totals.height);
    const summary = { number: b.number, tx_count: b.tx_count, valid_count: null, data_hash: b.data_hash, first_timestamp: b.time };
    const row = h("tr", { "data-block": b.number, class: "fresh" }, blockRow(summary).map((c) => h("td", null, c)));
    tbody.prepend(row);
    while (tbody.children.length > RECENT) tbody.lastElementChild.remove();
    blocks.unshift(summary);
    blocks.length = Math.min(blocks.length, RECENT);
    showRate();
    // The event carries no validity count: take it from the block's summary.
    try {
      const full = await ch(`/blocks/${b.number}`);
      row.children[2].textContent = `${full.valid_count}/${full.tx_count}`;
      totals.txs += full.valid_count; // only valid transactions count, and enter the log
      txCount.textContent = num(totals.txs);
    } catch {
      // the row stays as it is; the block page has it all
    }
  });

  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, `Channel ${info.name}`),
    h(
      "div",
      { class: "stats" },
      stat("Chain height", height, "blocks"),
      stat("Valid transactions", txCount, "each a leaf of the Merkle log"),
      stat("Transaction rate", rate, `last ${RECENT} blocks`),
      stat("Organisations", num(info.orgs.length), info.orgs.join(", ")),
    ),
    h(
      "div",
      { class: "columns" },
      h("section", { class: "card" }, h("h2", null, "Recent blocks"), recent),
      h(
        "div",
        null,
        recordList("Datasets", datasets.datasets, "datasets", (r) => `${num(r.rows)} rows · ${r.mediaType ?? ""}`),
        recordList("Models", models.models, "models", (r) => `epoch ${r.epoch ?? "—"} · ${Object.entries(r.metrics ?? {}).map(([k, v]) => `${k} ${num(v)}`).join(", ")}`),
        recordList("Analyses", analyses.analyses, "analyses", (r) => r.method ?? ""),
        section("Contracts", table("Contracts", ["name", "version", "policy"], info.contracts.map((c) => [c.name, c.version, h("code", null, c.policy)]))),
      ),
    ),
  );
}

/** One block: its hashes and its transactions. */
export async function block({ params }) {
  const n = Number(params[0]);
  const b = await ch(`/blocks/${n}`);
  const nav = h(
    "nav",
    { class: "pager", "aria-label": "Neighbouring blocks" },
    n > 0 ? h("a", { href: `#/blocks/${n - 1}`, rel: "prev" }, `← block ${n - 1}`) : h("span"),
    h("a", { href: `#/blocks/${n + 1}`, rel: "next" }, `block ${n + 1} →`),
  );
  const rows = b.transactions.map((t) => [
    txLink(t.tx_id), t.index, codeBadge(t.code), t.chaincode ? `${t.chaincode}.${t.function}` : t.type, `${t.creator.cn || "—"} (${t.creator.msp_id || "?"})`,
  ]);
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, `Block ${b.number}`),
    nav,
    section("Header", dl([
      ["Hash", hash(b.hash, 64)],
      ["Previous hash", b.number > 0 ? h("a", { href: `#/blocks/${b.number - 1}` }, hash(b.previous_hash, 64)) : hash(b.previous_hash, 64)],
      ["Data hash", hash(b.data_hash, 64)],
      ["Time", time(b.first_timestamp)],
      ["Transactions", `${b.tx_count} (${b.valid_count} valid)`],
    ])),
    section("Transactions", table(`Transactions in block ${b.number}`, ["transaction", "position", "validation", "call", "creator"], rows)),
  );
}

/** The record page a world-state key belongs to, when it is a registry record. */
export function keyHref(namespace, key) {
  const versioned = /^(dataset|model)\/([^/]+)\/(\d{10})$/.exec(key);
  if (versioned && ["datasets", "models"].includes(namespace)) {
    return `#/${versioned[1]}s/${encodeURIComponent(versioned[2])}?v=${Number(versioned[3])}`;
  }
  const analysis = /^analysis\/([^/]+)$/.exec(key);
  if (analysis && namespace === "analyses") return `#/analyses/${encodeURIComponent(analysis[1])}`;
  return null;
}

function keyCell(namespace, key) {
  const href = keyHref(namespace, key);
  return href ? h("a", { href, class: "mono" }, key) : h("span", { class: "mono" }, key);
}

/** One transaction: verdict, creator, endorsements, read/write sets, and Verify. */
export async function transaction({ params }) {
  const t = await ch(`/transactions/${seg(params[0])}`);
  const version = (v) => (v ? `${v[0]}:${v[1]}` : "absent");
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Transaction ", h("code", { class: "title-hash", title: t.tx_id }, `${t.tx_id.slice(0, 16)}…`)),
    section("Summary", dl([
      ["Transaction id", h("code", { class: "mono wrap" }, t.tx_id)],
      ["Validation", codeBadge(t.code)],
      ["Block", h("span", null, blockLink(t.block), ` position ${t.index}`)],
      ["Type", t.type],
      ["Creator", `${t.creator.cn || "—"} (${t.creator.msp_id || "?"})`],
      ["Call", t.chaincode ? h("code", null, `${t.chaincode}.${t.function}`) : "—"],
      ["Arguments", t.args.length ? h("ol", { class: "args" }, t.args.map((a) => h("li", null, h("code", { class: "wrap" }, a)))) : "none"],
      ["Time", time(t.timestamp)],
      ["Response", t.response ? `${t.response.status} ${t.response.payload ?? ""}` : "—"],
      ["Event", t.event ?? "none"],
      ["Merkle log leaf", t.leaf ?? "not in the log (invalid)"],
    ])),
    t.code === "VALID" ? verifyPanel(t) : section("Proof of inclusion", h("p", { class: "muted" }, "Only valid transactions enter the Merkle log: this one has no inclusion proof.")),
    section("Endorsements", t.endorsers.length ? h("ul", { class: "endorsers" }, t.endorsers.map((e) => h("li", null, e))) : h("p", { class: "muted" }, "None.")),
    section(
      "Read set",
      table("Keys read during endorsement and the versions seen", ["namespace", "key", "version (block:tx)"], t.reads.map((r) => [r.namespace, keyCell(r.namespace, r.key), version(r.version)]), "No reads."),
    ),
    section(
      "Write set",
      table("Keys written", ["namespace", "key", "value"], t.writes.map((w) => [w.namespace, keyCell(w.namespace, w.key), w.deleted ? h("em", null, "deleted") : h("code", { class: "wrap" }, w.value ?? "(binary)")]), "No writes."),
    ),
  );
}

/** Governance jobs (federated training), if the governance chaincode is deployed. */
export async function jobs() {
  let list;
  try {
    list = (await ch("/jobs")).jobs;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      return h("div", null, h("h1", { tabindex: "-1" }, "Jobs"), section("Not available", h("p", null, err.message)));
    }
    throw err;
  }
  const rows = list.map((j) => [
    h("code", null, j.id ?? "—"), j.status ?? "—", j.model ? h("a", { href: `#/models/${encodeURIComponent(j.model)}` }, j.model) : "—",
    (j.datasets ?? []).join(", "), `${(j.approvals ?? []).length}/${(j.approvers ?? []).length}`, j.rounds ?? "—",
  ]);
  return h(
    "div",
    null,
    h("h1", { tabindex: "-1" }, "Jobs"),
    section("Federated training jobs", table("Jobs proposed through governance", ["id", "status", "model", "datasets", "approvals", "rounds"], rows, "No jobs proposed on this channel.")),
    list.length ? section("Records as stored", json(list)) : null,
  );
}

// A model's training metrics per anchored checkpoint as an inline SVG line chart: one chart
// per metric (loss and accuracy do not share a scale), with labelled axes and "nice" ticks.
import { h, num, s } from "./dom.js";

const W = 720;
const H = 280;
const M = { top: 16, right: 20, bottom: 44, left: 64 };

/** About `count` round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return ticks(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((v) => v >= raw);
  const out = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/**
 * Figures for `series` = [{version, epoch, metrics: {name: number}}] oldest first: x is the
 * epoch (the checkpoint's version when no epoch was recorded).
 */
export function metricCharts(series) {
  const names = [...new Set(series.flatMap((p) => Object.keys(p.metrics ?? {})))].sort();
  return names.flatMap((name) => {
    const points = series
      .filter((p) => typeof p.metrics?.[name] === "number" && Number.isFinite(p.metrics[name]))
      .map((p) => ({ x: p.epoch ?? p.version, y: p.metrics[name], version: p.version }));
    if (!points.length) return [];
    const xLabel = series.every((p) => p.epoch !== null && p.epoch !== undefined) ? "epoch" : "version";
    return h("figure", { class: "chart" }, lineChart(name, points, xLabel), h("figcaption", null, `${name} per checkpoint`));
  });
}

function lineChart(name, points, xLabel) {
  const xs = ticks(Math.min(0, ...points.map((p) => p.x)), Math.max(...points.map((p) => p.x)));
  const yLo = Math.min(...points.map((p) => p.y));
  const yHi = Math.max(...points.map((p) => p.y));
  const ys = ticks(yLo >= 0 && yLo < (yHi - yLo) * 0.5 ? 0 : yLo, yHi);
  const [x0, x1] = [xs[0], xs[xs.length - 1]];
  const [y0, y1] = [ys[0], ys[ys.length - 1]];
  const px = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const desc = points.map((p) => `${xLabel} ${p.x}: ${num(p.y)}`).join("; ");
  return s(
    "svg",
    { class: "metric-chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `${name}: ${desc}` },
    s(
      "g",
      { class: "grid" },
      ys.map((y) => s("line", { x1: M.left, x2: W - M.right, y1: py(y), y2: py(y) })),
    ),
    s(
      "g",
      { class: "axis" },
      s("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }),
      s("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }),
      xs.map((x) => s("text", { x: px(x), y: H - M.bottom + 18, "text-anchor": "middle" }, num(x))),
      ys.map((y) => s("text", { x: M.left - 8, y: py(y), "text-anchor": "end", "dominant-baseline": "middle" }, num(y))),
      s("text", { x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle", class: "axis-title" }, xLabel),
      s("text", { x: 14, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", class: "axis-title", transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` }, name),
    ),
    s("polyline", { class: "series", points: points.map((p) => `${px(p.x)},${py(p.y)}`).join(" ") }),
    points.map((p) =>
      s("circle", { class: "point", cx: px(p.x), cy: py(p.y), r: 4.5 }, s("title", null, `version ${p.version}, ${xLabel} ${p.x}: ${name} ${num(p.y)}`)),
    ),
  );
}

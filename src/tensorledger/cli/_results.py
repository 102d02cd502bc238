"""Recorded statistical results as tables a statistician recognises (statsmodels' summary layout).

Renders from the result's JSON (`AnalysisRecord.result`), not from the typed
result objects, because `analyze show` and `verify analysis` print what the
ledger holds, possibly written by another organisation's client. A result
that does not have the expected shape is shown as its JSON rather than
refused: showing a record must never fail because of what it says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

#: p values below this are printed in scientific notation rather than as 0.0000
_SMALL_P = 1e-4


def number(value: Any) -> str:
    """A statistic for a table: four decimals where they mean something, else scientific."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or (1e-4 <= abs(value) < 1e7) or not math.isfinite(value):
        return f"{value:.4f}"
    return f"{value:.4e}"


def p_value(value: Any) -> str:
    """A p value: 0.0123, or 3.2e-12 when four decimals would round it to zero."""
    if isinstance(value, float) and 0 < value < _SMALL_P:
        return f"{value:.1e}"
    return number(value)


def _header(title: str, left: Sequence[tuple[str, str]], right: Sequence[tuple[str, str]]) -> Table:
    """Two label/value columns side by side under a title, as statsmodels' summary opens."""
    table = Table(title=title, show_header=False, box=None, padding=(0, 2), title_style="bold")
    for style in ("bold", "", "bold", ""):
        table.add_column(style=style)
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ("", "")
        b = right[i] if i < len(right) else ("", "")
        table.add_row(a[0], a[1], b[0], b[1])
    return table


def _coefficients(result: Mapping[str, Any], stat: str, p_label: str) -> Table:
    table = Table()
    table.add_column("")
    for column in ("coef", "std err", stat, p_label):
        table.add_column(column, justify="right")
    rows = zip(
        result["columns"],
        result["coefficients"],
        result["standard_errors"],
        result[f"{stat}_values"],
        result["p_values"],
        strict=True,
    )
    for name, coef, se, value, p in rows:
        table.add_row(str(name), number(coef), number(se), number(value), p_value(p))
    return table


def _ols(r: Mapping[str, Any]) -> RenderableType:
    head = _header(
        "OLS Regression Results",
        [
            ("Dep. Variable:", str(r["y"])),
            ("No. Observations:", number(r["n"])),
            ("Df Residuals:", number(r["df_resid"])),
            ("Df Model:", number(r["df_model"])),
            ("Intercept:", "yes" if r["intercept"] else "no"),
        ],
        [
            ("R-squared:", number(r["r_squared"])),
            ("Adj. R-squared:", number(r["adj_r_squared"])),
            ("F-statistic:", number(r["f_statistic"])),
            ("Prob (F-statistic):", p_value(r["f_p_value"])),
            ("Residual std err:", number(r["residual_std_error"])),
        ],
    )
    return Group(head, _coefficients(r, "t", "P>|t|"))


def _logit(r: Mapping[str, Any]) -> RenderableType:
    converged = f"{'yes' if r['converged'] else 'NO'} ({r['iterations']} iterations)"
    head = _header(
        "Logit Regression Results",
        [
            ("Dep. Variable:", str(r["y"])),
            ("No. Observations:", number(r["n"])),
            ("Df Residuals:", number(r["df_resid"])),
            ("Df Model:", number(r["df_model"])),
            ("Converged:", converged),
        ],
        [
            ("Pseudo R-squ.:", number(r["pseudo_r_squared"])),
            ("Log-Likelihood:", number(r["log_likelihood"])),
            ("LL-Null:", number(r["null_log_likelihood"])),
        ],
    )
    return Group(head, _coefficients(r, "z", "P>|z|"))


def _describe(r: Mapping[str, Any]) -> RenderableType:
    levels = [float(q) for q in r["levels"]]
    table = Table(title="Descriptive statistics", title_justify="left", title_style="bold")
    table.add_column("")
    for column in ("count", "mean", "std", "min", *(f"{q:.0%}" for q in levels), "max"):
        table.add_column(column, justify="right")
    for c in r["columns"]:
        quantiles = [number(q) for q in c["quantiles"]]
        table.add_row(
            str(c["name"]), number(c["count"]), number(c["mean"]), number(c["std"]),
            number(c["min"]), *quantiles, number(c["max"]),
        )  # fmt: skip
    return table


def _matrix(r: Mapping[str, Any]) -> RenderableType:
    title = "Correlation" if r["method"] == "correlation" else "Covariance"
    table = Table(
        title=f"{title} matrix (n = {number(r['n'])})", title_justify="left", title_style="bold"
    )
    table.add_column("")
    for name in r["columns"]:
        table.add_column(str(name), justify="right")
    for name, row in zip(r["columns"], r["matrix"], strict=True):
        table.add_row(str(name), *(number(v) for v in row))
    return table


def _ttest(r: Mapping[str, Any]) -> RenderableType:
    if r.get("groups") is not None:
        a, b = (f"{r['group_column']} = {g}" for g in r["groups"])
    else:
        a, b = "a", "b"
    kind = "pooled variance" if r["equal_var"] else "Welch, unequal variances"
    what = f" of {r['column']}" if r.get("column") else ""
    title = Text(f"Two-sample t-test{what} ({kind})", style="bold")
    table = Table()
    for column in ("group", "n", "mean", "variance"):
        table.add_column(column, justify="left" if column == "group" else "right")
    table.add_row(a, number(r["n_a"]), number(r["mean_a"]), number(r["var_a"]))
    table.add_row(b, number(r["n_b"]), number(r["mean_b"]), number(r["var_b"]))
    line = Text.assemble(
        ("difference ", "bold"), number(r["difference"]),
        ("   t ", "bold"), number(r["t"]),
        ("   df ", "bold"), number(r["df"]),
        ("   p ", "bold"), p_value(r["p"]),
    )  # fmt: skip
    return Group(title, table, line)


_RENDERERS: dict[str, Callable[[Mapping[str, Any]], RenderableType]] = {
    "ols": _ols,
    "logit": _logit,
    "describe": _describe,
    "covariance": _matrix,
    "correlation": _matrix,
    "ttest": _ttest,
}


def render(method: str, result: Mapping[str, Any]) -> RenderableType:
    """The result as tables, or as indented JSON when it is not shaped as `method`'s result."""
    renderer = _RENDERERS.get(method)
    if renderer is not None:
        try:
            return renderer(result)
        except (KeyError, TypeError, ValueError):
            pass
    return Text(json.dumps(dict(result), indent=2, sort_keys=True, default=str))


__all__ = ["number", "p_value", "render"]

#!/usr/bin/env python3
"""Draws the panels of a Grafana dashboard from a Prometheus server.

    render_dashboard.py PROMETHEUS_URL DASHBOARD_JSON START END OUT_PNG
                        [NAME=VALUE ...] [--step=SECONDS]
                        [--scrape_interval=SECONDS] [--dpi=N]

START and END are Unix seconds, RFC 3339 times, `now` or `now-30m` (s, m, h,
d). Each NAME=VALUE replaces the dashboard variable $NAME (also ${NAME} and
[[NAME]]) in every query; job and instance default to `.*`, and
__rate_interval to Grafana's rule, max(step + scrape interval, 4 * scrape
interval). $datasource is not substituted: the queries go to PROMETHEUS_URL.

Every panel is placed where the dashboard's gridPos puts it, rows as
headings (collapsed rows drawn open): time series as lines (stacked, filled
or on a log scale as configured, one legend entry per series from the
target's legendFormat; series that stay at 0 are drawn but left out of the
legend), stats as their last value over a sparkline, tables as the instant
result at END. A query that fails or returns nothing is drawn as such; the
image is written either way, and each such query is named on stderr.

Only this file's render() needs matplotlib; the rest is the standard library,
so that tests can reuse the dashboard walk, the substitution and the
Prometheus client (tests/monitoring/dashboard_test.sh).
"""

import argparse
import datetime
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# ---------------------------------------------------------------- dashboard


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    # An export wrapped for the HTTP API ({"dashboard": {...}}) works too.
    return dashboard.get("dashboard", dashboard)


def sections(dashboard):
    """[(row title or None, [panel, ...]), ...] in dashboard order.

    Panels nested in a (collapsed) row and panels following an open row both
    belong to that row.
    """
    out = [(None, [])]
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            out.append((panel.get("title", ""), list(panel.get("panels", []))))
        else:
            out[-1][1].append(panel)
    return [(title, panels) for title, panels in out
            if panels or title is not None]


def panels(dashboard):
    """Every panel that is not a row, with its row's title."""
    for row_title, members in sections(dashboard):
        for panel in members:
            yield row_title, panel


def targets(panel):
    return [t for t in panel.get("targets", []) if not t.get("hide")]


_VARIABLE = re.compile(
    r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr, variables):
    """Replaces $name, ${name}, ${name:format} and [[name]]; unknown names
    are left as they are (a query holding one then fails visibly)."""
    def one(match):
        name = match.group(1) or match.group(2) or match.group(3)
        return str(variables[name]) if name in variables else match.group(0)
    return _VARIABLE.sub(one, expr)


def variable_query(variable):
    """The PromQL a query variable's label_values(...) amounts to, with the
    label it lists, or (None, None) for other variables."""
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*",
                         query or "", re.S)
    if variable.get("type") != "query" or not match:
        return None, None
    return f"count by ({match.group(2)}) ({match.group(1)})", match.group(2)


def legend_name(legend_format, labels):
    if not legend_format or legend_format == "__auto":
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())
                          if k != "__name__")
        return labels.get("__name__", "") + "{" + inner + "}"
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}",
                  lambda m: labels.get(m.group(1), ""), legend_format).strip()

# --------------------------------------------------------------- Prometheus


class Prometheus:
    def __init__(self, url, timeout=30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, path, params):
        """(status, data or None, error text or None); never raises for an
        answer Prometheus gives."""
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(
            self.url + path, data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:  # 400/422 carry a JSON error.
            try:
                answer = json.load(e)
            except ValueError:
                return "error", None, f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            return "error", None, str(e)
        return (answer.get("status", "error"), answer.get("data"),
                answer.get("error"))

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._call("/api/v1/query", params)

    def query_range(self, expr, start, end, step):
        return self._call("/api/v1/query_range", {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
            "step": f"{step:g}"})


def series_of(data):
    """[(labels, [(t, v), ...]), ...] from a vector, matrix or scalar."""
    if not data:
        return []
    kind, result = data.get("resultType"), data.get("result")
    if kind == "matrix":
        return [(s["metric"], [(float(t), float(v)) for t, v in s["values"]])
                for s in result]
    if kind == "vector":
        return [(s["metric"], [(float(s["value"][0]), float(s["value"][1]))])
                for s in result]
    if kind == "scalar":
        return [({}, [(float(result[0]), float(result[1]))])]
    return []

# ------------------------------------------------------------------- units


def _number(x):
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _scaled(value, base, prefixes, suffix):
    magnitude = abs(value)
    for i in range(len(prefixes) - 1, 0, -1):
        if magnitude >= base ** i:
            return f"{_number(value / base ** i)} {prefixes[i]}{suffix}"
    return f"{_number(value)} {suffix}".rstrip()


def format_value(value, unit, decimals=None):
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    si = ["", "k", "M", "G", "T"]
    if unit == "percentunit":
        return f"{100 * value:.{1 if decimals is None else decimals}f} %"
    if unit == "s":
        if value == 0:
            return "0 s"
        if abs(value) < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if abs(value) < 1:
            return f"{value * 1e3:.3g} ms"
        if decimals == 0 and value < 60:
            return f"{value:.0f} s"
        if decimals == 0:
            hours, rest = divmod(int(value), 3600)
            return f"{hours} h {rest // 60} min" if hours else \
                f"{rest // 60} min {rest % 60} s"
        return f"{value:.3g} s"
    if unit == "bytes":
        return _scaled(value, 1024, ["", "Ki", "Mi", "Gi", "Ti"], "B")
    suffix = {"bps": "b/s", "pps": "p/s", "ops": "ops/s",
              "reqps": "req/s"}.get(unit, "")
    if decimals == 0 and abs(value) < 1000:
        return f"{value:.0f} {suffix}".rstrip()
    return _scaled(value, 1000, si, suffix)

# ------------------------------------------------------------------ render

PALETTE = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2",
           "#B877D9", "#FF9830", "#37872D", "#FADE2A", "#C4162A", "#1F60C4",
           "#8F3BB8", "#96D98D", "#FFB357", "#CA95E5"]
NAMED = {"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830",
         "yellow": "#FADE2A", "blue": "#5794F2", "purple": "#B877D9",
         "dark-red": "#C4162A", "text": "#CCCCDC"}
BACKGROUND, PANEL, BORDER = "#111217", "#181B1F", "#2C3235"
TEXT, DIM = "#CCCCDC", "#8E8E9A"


def _color(name):
    return NAMED.get(name, name)


def _override_color(panel, display):
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override.get("matcher", {})
        hit = ((matcher.get("id") == "byName"
                and matcher.get("options") == display) or
               (matcher.get("id") == "byRegexp"
                and re.fullmatch(matcher.get("options", ""), display)))
        if not hit:
            continue
        for prop in override.get("properties", []):
            if prop.get("id") == "color":
                return _color(prop["value"].get("fixedColor", ""))
    return None


class _Layout:
    """Converts dashboard grid units into figure fractions."""

    def __init__(self, figure, width_in, unit_in, total_units):
        self.figure, self.width_in, self.unit_in = figure, width_in, unit_in
        self.height_in = total_units * unit_in

    def rect(self, x, y, w, h, pad_in=0.05):
        """(left, bottom, width, height) of grid cell x, y, w, h, inset."""
        fw, fh = self.width_in, self.height_in
        left = x / 24 * fw + pad_in
        top = y * self.unit_in + pad_in
        width = w / 24 * fw - 2 * pad_in
        height = h * self.unit_in - 2 * pad_in
        return (left / fw, 1 - (top + height) / fh, width / fw, height / fh)

    def inches(self, rect):
        return rect[2] * self.width_in, rect[3] * self.height_in

    def inner(self, rect, left_in, right_in, top_in, bottom_in):
        fw, fh = self.width_in, self.height_in
        return (rect[0] + left_in / fw, rect[1] + bottom_in / fh,
                max(rect[2] - (left_in + right_in) / fw, 0.01),
                max(rect[3] - (top_in + bottom_in) / fh, 0.01))


def _frame(plt, layout, rect, title, description=None):
    figure = layout.figure
    figure.patches.append(plt.Rectangle(
        (rect[0], rect[1]), rect[2], rect[3], transform=figure.transFigure,
        facecolor=PANEL, edgecolor=BORDER, linewidth=0.8, zorder=-10))
    top_in = 0.08
    figure.text(rect[0] + 0.1 / layout.width_in,
                rect[1] + rect[3] - top_in / layout.height_in, title,
                color=TEXT, fontsize=9.5, fontweight="bold", va="top",
                ha="left")


def _note(layout, rect, text, color=DIM, size=8):
    layout.figure.text(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2, text,
                       color=color, fontsize=size, ha="center", va="center",
                       wrap=True)


def _results(prom, panel, variables, start, end, step, problems):
    """[(target, legend, status, series)] for each target of the panel."""
    out = []
    for target in targets(panel):
        expr = substitute(target.get("expr", ""), variables)
        if target.get("instant") and not target.get("range"):
            status, data, error = prom.query(expr, end)
        else:
            status, data, error = prom.query_range(expr, start, end, step)
        series = series_of(data) if status == "success" else []
        if status != "success":
            problems.append(f"{panel.get('title')} [{target.get('refId')}]: "
                            f"{error}")
        elif not series:
            problems.append(f"{panel.get('title')} [{target.get('refId')}]: "
                            "no data")
        out.append((target, target.get("legendFormat", ""), status, error,
                    series))
    return out


def _draw_timeseries(plt, mdates, layout, rect, panel, results, start, end):
    import numpy as np
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    custom = defaults.get("custom", {})
    unit = defaults.get("unit", "none")
    stacked = custom.get("stacking", {}).get("mode", "none") == "normal"
    log = custom.get("scaleDistribution", {}).get("type") == "log"
    fill = custom.get("fillOpacity", 0) / 100

    lines = []  # (name, times, values, color)
    failures = []
    for target, legend, status, error, series in results:
        if status != "success":
            failures.append(error or "query failed")
        for labels, points in series:
            lines.append([legend_name(legend, labels),
                          [t for t, _ in points], [v for _, v in points],
                          None])
    lines.sort(key=lambda line: line[0])
    for i, line in enumerate(lines):
        line[3] = _override_color(panel, line[0]) or PALETTE[i % len(PALETTE)]

    def shown(values):
        return any(v != 0 and not math.isnan(v) for v in values)

    visible = [line for line in lines if shown(line[2])]
    hidden = len(lines) - len(visible)
    width_in, height_in = layout.inches(rect)
    columns = max(1, int(width_in / 2.0))
    legend_rows = min(4, math.ceil(len(visible) / columns)) if visible else 0
    bottom_in = 0.28 + 0.17 * legend_rows + (0.06 if legend_rows else 0)
    axes_rect = layout.inner(rect, 0.62, 0.15, 0.32, bottom_in)
    ax = layout.figure.add_axes(axes_rect, facecolor=PANEL)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(colors=DIM, labelsize=7, length=0)
    ax.grid(True, color=BORDER, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlim(mdates.date2num(datetime.datetime.fromtimestamp(
        start, datetime.timezone.utc)), mdates.date2num(
        datetime.datetime.fromtimestamp(end, datetime.timezone.utc)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))

    def dates(times):
        return mdates.date2num([datetime.datetime.fromtimestamp(
            t, datetime.timezone.utc) for t in times])

    if stacked and lines:
        # Series at 0 add nothing to a stack; drawn, their lines would hide
        # the top of the layer below.
        grid = sorted({t for line in lines for t in line[1]})
        index = {t: i for i, t in enumerate(grid)}
        base = np.zeros(len(grid))
        for name, times, values, color in visible:
            row = np.zeros(len(grid))
            for t, v in zip(times, values):
                row[index[t]] = 0 if math.isnan(v) else v
            x = dates(grid)
            ax.fill_between(x, base, base + row, color=color,
                            alpha=max(fill, 0.1), linewidth=0, step=None)
            ax.plot(x, base + row, color=color, linewidth=1.1, label=name)
            base = base + row
    else:
        for name, times, values, color in lines:
            # Gaps where Prometheus had no point, as Grafana draws them.
            xs, ys = [], []
            for j, (t, v) in enumerate(zip(times, values)):
                if j and t - times[j - 1] > 1.5 * _step_of(times):
                    xs.append(t - 1e-3)
                    ys.append(float("nan"))
                xs.append(t)
                ys.append(v)
            x = dates(xs)
            ax.plot(x, ys, color=color, linewidth=1.2, label=name)
            if fill > 0 and not log:
                ax.fill_between(x, 0, np.nan_to_num(ys), color=color,
                                alpha=fill, linewidth=0)
    if log:
        # Whole powers of the unit's base, at most five ticks, and 0.
        base = 1024 if unit == "bytes" else 10
        ax.set_yscale("symlog", linthresh=1, base=base)
        peak = max([v for line in lines for v in line[2]
                    if not math.isnan(v)] + [1])
        top_power = max(1, math.ceil(math.log(peak, base) - 1e-9))
        stride = math.ceil((top_power + 1) / 4)
        ticks = [0] + [base ** k for k in range(top_power, -1, -stride)]
        ax.yaxis.set_major_locator(plt.FixedLocator(sorted(ticks)))
        ax.yaxis.set_minor_locator(plt.NullLocator())
        ax.set_ylim(0, base ** top_power * 1.3)
    else:
        bottom = defaults.get("min")
        if bottom is not None:
            ax.set_ylim(bottom=bottom)
    top = defaults.get("max")
    if top is not None:
        ax.set_ylim(top=top)
    elif not visible:
        ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(
        lambda v, _: format_value(v, unit)))
    if not log:
        ax.yaxis.set_major_locator(plt.MaxNLocator(4))

    if failures:
        _note(layout, axes_rect, "query failed:\n" + "\n".join(
            f[:90] for f in failures[:2]), color=NAMED["red"], size=7.5)
    elif not lines:
        _note(layout, axes_rect,
              defaults.get("noValue", "No data"), size=10)
    if visible:
        handles = [h for h in ax.get_lines() if h.get_label() in
                   {line[0] for line in visible}]
        limit = columns * legend_rows
        labels = [h.get_label() for h in handles]
        if len(handles) > limit:
            handles, labels = handles[:limit - 1], labels[:limit - 1]
            handles.append(plt.Line2D([], [], color=PANEL))
            labels.append(f"+{len(visible) - limit + 1} more")
        legend_top = (axes_rect[1] - 0.26 / layout.height_in)
        layout.figure.legend(
            handles, [_clip(l, 34) for l in labels], loc="upper left",
            bbox_to_anchor=(rect[0] + 0.08 / layout.width_in, legend_top),
            bbox_transform=layout.figure.transFigure, ncol=columns,
            frameon=False, fontsize=7, labelcolor=TEXT, handlelength=1.2,
            handletextpad=0.4, columnspacing=1.0, borderaxespad=0,
            borderpad=0, labelspacing=0.25)
    if hidden:
        layout.figure.text(
            rect[0] + rect[2] - 0.1 / layout.width_in,
            rect[1] + rect[3] - 0.1 / layout.height_in,
            f"{len(lines)} series, {hidden} at 0 (not in legend)"
            if visible else f"{len(lines)} series, all 0",
            color=DIM, fontsize=7, ha="right", va="top")


def _step_of(times):
    if len(times) < 2:
        return 1.0
    return min(b - a for a, b in zip(times, times[1:])) or 1.0


def _clip(text, n):
    return text if len(text) <= n else text[:n - 1] + "…"


def _draw_stat(plt, layout, rect, panel, results):
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit = defaults.get("unit", "none")
    failures = [r[3] for r in results if r[2] != "success"]
    series = [s for r in results for s in r[4]]
    if failures or not series:
        _note(layout, layout.inner(rect, 0.1, 0.1, 0.3, 0.1),
              "query failed" if failures else
              defaults.get("noValue", "No data"),
              color=NAMED["red"] if failures else DIM, size=10)
        return
    _, points = series[0]
    finite = [(t, v) for t, v in points if not math.isnan(v)]
    value = finite[-1][1] if finite else float("nan")
    color = TEXT
    for step in defaults.get("thresholds", {}).get("steps", []):
        if step.get("value") is None or (not math.isnan(value) and
                                         value >= step["value"]):
            color = _color(step.get("color", "text"))
    if finite and len(finite) > 1:
        ax = layout.figure.add_axes(
            layout.inner(rect, 0.05, 0.05, 0.75, 0.05), facecolor=PANEL)
        ax.axis("off")
        xs = [t for t, _ in finite]
        ys = [v for _, v in finite]
        ax.fill_between(xs, min(0, min(ys)), ys, color=color, alpha=0.18,
                        linewidth=0)
        ax.plot(xs, ys, color=color, linewidth=1, alpha=0.7)
        ax.set_xlim(xs[0], xs[-1])
    layout.figure.text(
        rect[0] + rect[2] / 2, rect[1] + rect[3] * 0.42,
        format_value(value, unit, defaults.get("decimals")),
        color=color, fontsize=20, fontweight="bold", ha="center",
        va="center")


def _draw_table(plt, layout, rect, panel, results):
    organize = {}
    for transformation in panel.get("transformations", []):
        if transformation.get("id") == "organize":
            organize = transformation.get("options", {})
    excluded = organize.get("excludeByName", {})
    order = organize.get("indexByName", {})
    renamed = organize.get("renameByName", {})
    units = {}
    decimals = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override.get("matcher", {}).get("id") == "byName":
            for prop in override.get("properties", []):
                name = override["matcher"]["options"]
                if prop.get("id") == "unit":
                    units[name] = prop["value"]
                if prop.get("id") == "decimals":
                    decimals[name] = prop["value"]
    rows = []
    columns = []
    for _, _, status, _, series in results:
        for labels, points in series:
            fields = dict(labels)
            fields["Time"] = points[-1][0]
            fields["Value"] = points[-1][1]
            for name in fields:
                if name not in columns and not excluded.get(name):
                    columns.append(name)
            rows.append(fields)
    columns.sort(key=lambda c: (order.get(c, 1000), c))
    inner = layout.inner(rect, 0.12, 0.12, 0.4, 0.1)
    failures = [r[3] for r in results if r[2] != "success"]
    if failures or not rows:
        _note(layout, inner, "query failed" if failures else "No data",
              color=NAMED["red"] if failures else DIM, size=10)
        return
    width_in, height_in = layout.inches(inner)
    line_in = 0.24
    x_fracs = [i / len(columns) for i in range(len(columns))]
    figure = layout.figure

    def put(row, texts, bold=False, color=TEXT):
        y = inner[1] + inner[3] - (row + 0.5) * line_in / layout.height_in
        for frac, text in zip(x_fracs, texts):
            figure.text(inner[0] + frac * inner[2], y, _clip(str(text), 22),
                        color=color, fontsize=8, va="center", ha="left",
                        fontweight="bold" if bold else "normal")

    put(0, [renamed.get(c, c) for c in columns], bold=True, color=DIM)
    for i, fields in enumerate(sorted(rows, key=lambda f: (
            f.get("job", ""), f.get("instance", "")))):
        texts = []
        for c in columns:
            value = fields.get(c, "")
            shown_name = renamed.get(c, c)
            if c == "Value":
                value = format_value(float(value), units.get(shown_name, ""),
                                     decimals.get(shown_name))
            texts.append(value)
        put(i + 1, texts)


def render(prom, dashboard, start, end, out, variables, step, dpi=90,
           title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    laid = []  # (kind, title or panel, x, y, w, h) in a flowing grid
    y = 2.4  # the dashboard's own heading
    for row_title, members in sections(dashboard):
        if row_title is not None:
            laid.append(("row", row_title, 0, y, 24, 1))
            y += 1
        if not members:
            continue
        top = min(p.get("gridPos", {}).get("y", 0) for p in members)
        bottom = y
        for panel in members:
            pos = panel.get("gridPos", {})
            py = y + pos.get("y", 0) - top
            laid.append(("panel", panel, pos.get("x", 0), py,
                         pos.get("w", 8), pos.get("h", 8)))
            bottom = max(bottom, py + pos.get("h", 8))
        y = bottom
    width_in, unit_in = 20.0, 0.3
    figure = plt.figure(figsize=(width_in, y * unit_in), facecolor=BACKGROUND)
    layout = _Layout(figure, width_in, unit_in, y)
    span = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
    figure.text(0.1 / width_in, 1 - 0.2 / layout.height_in,
                title or dashboard.get("title", "dashboard"), color=TEXT,
                fontsize=15, fontweight="bold", va="top")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(variables.items()))
    figure.text(0.1 / width_in, 1 - 0.55 / layout.height_in,
                f"{span:%Y-%m-%d %H:%M:%S} UTC + {end - start:.0f} s, "
                f"step {step:g} s; {shown}", color=DIM, fontsize=8.5,
                va="top")
    problems = []
    for kind, what, x, py, w, h in laid:
        if kind == "row":
            figure.text(0.1 / width_in,
                        1 - (py + 0.5) * unit_in / layout.height_in,
                        what, color=TEXT, fontsize=11.5, fontweight="bold",
                        va="center")
            figure.lines.append(plt.Line2D(
                [0.005, 0.995], [1 - (py + 0.95) * unit_in / layout.height_in] * 2,
                transform=figure.transFigure, color=BORDER, linewidth=0.8))
            continue
        panel = what
        rect = layout.rect(x, py, w, h)
        _frame(plt, layout, rect, panel.get("title", ""))
        results = _results(prom, panel, variables, start, end, step, problems)
        kind_of = panel.get("type")
        if kind_of == "stat":
            _draw_stat(plt, layout, rect, panel, results)
        elif kind_of == "table":
            _draw_table(plt, layout, rect, panel, results)
        else:
            _draw_timeseries(plt, mdates, layout, rect, panel, results,
                             start, end)
    figure.savefig(out, dpi=dpi, facecolor=BACKGROUND)
    plt.close(figure)
    return problems

# -------------------------------------------------------------------- main


def parse_time(text, now=None):
    now = time.time() if now is None else now
    text = text.strip()
    if text == "now":
        return now
    match = re.fullmatch(r"now-(\d+(?:\.\d+)?)([smhd])", text)
    if match:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - float(match.group(1)) * scale
    try:
        return float(text)
    except ValueError:
        return datetime.datetime.fromisoformat(
            text.replace("Z", "+00:00")).timestamp()


def default_variables(step, scrape_interval):
    rate_interval = max(step + scrape_interval, 4 * scrape_interval)
    return {"job": ".*", "instance": ".*",
            "__rate_interval": f"{rate_interval:g}s",
            "__interval": f"{step:g}s"}


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prometheus")
    parser.add_argument("dashboard")
    parser.add_argument("start")
    parser.add_argument("end")
    parser.add_argument("out")
    parser.add_argument("variables", nargs="*", metavar="NAME=VALUE")
    parser.add_argument("--step", type=float, default=0,
                        help="seconds between points (default: range/300, "
                        "at least the scrape interval)")
    parser.add_argument("--scrape_interval", type=float, default=15)
    parser.add_argument("--dpi", type=int, default=90)
    parser.add_argument("--title", default=None)
    args = parser.parse_intermixed_args(argv)
    now = time.time()
    start, end = parse_time(args.start, now), parse_time(args.end, now)
    if end <= start:
        parser.error("END must be after START")
    step = args.step or max(round((end - start) / 300), args.scrape_interval)
    variables = default_variables(step, args.scrape_interval)
    for pair in args.variables:
        name, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"not NAME=VALUE: {pair}")
        variables[name.lstrip("$")] = value
    problems = render(Prometheus(args.prometheus),
                      load_dashboard(args.dashboard), start, end, args.out,
                      variables, step, dpi=args.dpi, title=args.title)
    for problem in problems:
        print(f"render_dashboard: {problem}", file=sys.stderr)
    print(f"render_dashboard: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

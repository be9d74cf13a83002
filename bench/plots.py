"""Pictures of a benchmark report: PNG files beside its markdown, for the numbers that read better drawn.

bench/run.py draws them at the end of a run and links them from the report. Alone, it draws the
plots of earlier runs from their JSON and rewrites the markdown beside each (the same report, now
with its pictures):

    .venv/bin/python bench/plots.py bench/results/report-20261202-124908.json bench/BASELINE.json

Each picture is a file named after the report: report-X.json gives report-X-fanout-latency.png and
so on. A picture whose numbers a run did not measure (--only, --servers) is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from callsetup import STALL_MS, TARGETS_MS
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

# One colour per server in every picture, so that a reader learns it once.
COLOURS = {"videochat": "tab:blue", "reference": "tab:orange"}
SERVERS = ("videochat", "reference")
LOST, DISTURBED = "messages lost", "disturbed by other load"
CLEAN_P99_MS = 100  # bench/run.py: a fan-out step is clean with p99 under this and nothing lost
SIZE = (9, 5)  # inches; at DPI, 900 × 500 pixels: readable on a page without zooming
DPI = 100
NUMBER = FuncFormatter(lambda value, _: f"{value:,g}")  # 2,500 and 12.5 and 0.1, not 2.5e3 or 10^-1


# --- the pictures -------------------------------------------------------------------------------


def fanout_latency(results: dict, when: str) -> Figure | None:
    """Latency (p50 and p99, log scale) against offered rate, both servers on one axis."""
    servers = [s for s in SERVERS if results.get(s, {}).get("fanout")]
    if not servers:
        return None
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    for server in servers:
        steps = results[server]["fanout"]
        rates = [s["rate"] for s in steps]
        for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
            axes.plot(
                rates,
                [s[key] for s in steps],
                style,
                marker="o",
                color=COLOURS[server],
                label=f"{server} {key.removesuffix('_ms')}",
            )
        _mark_doubtful_steps(axes, steps, "p99_ms")
    axes.axhline(CLEAN_P99_MS, color="grey", linestyle=":", linewidth=1)
    axes.annotate(
        f"p99 limit of a clean step ({CLEAN_P99_MS} ms)",
        (0.01, CLEAN_P99_MS),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(0, 3),
        color="grey",
        fontsize=8,
    )
    axes.set_yscale("log")
    axes.xaxis.set_major_formatter(NUMBER)
    axes.yaxis.set_major_formatter(NUMBER)
    axes.set_xlabel("offered messages/s (each delivered to the others in its room)")
    axes.set_ylabel("send → delivery, ms (log scale)")
    axes.set_title(f"Fan-out latency against offered rate — {when}")
    axes.grid(True, which="major", alpha=0.3)
    _legend(axes)
    return figure


def fanout_throughput(results: dict, when: str) -> Figure | None:
    """Deliveries per second against offered rate (beside what keeping up would deliver), and the
    server's CPU time per delivery."""
    servers = [s for s in SERVERS if results.get(s, {}).get("fanout")]
    if not servers:
        return None
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    delivered, cost = figure.subplots(1, 2)
    steps = results[servers[0]]["fanout"]
    # what keeping up means: every message sent reaches every other member of its room
    delivered.plot(
        [s["rate"] for s in steps],
        [s["rate"] * s["expected"] / s["sent"] for s in steps],
        color="grey",
        linestyle=":",
        label="every message delivered",
    )
    for server in servers:
        steps = results[server]["fanout"]
        rates = [s["rate"] for s in steps]
        delivered.plot(rates, [s["delivered_per_s"] for s in steps], marker="o", color=COLOURS[server], label=server)
        _mark_doubtful_steps(delivered, steps, "delivered_per_s")
        cost.plot(rates, [s["server_us_per_delivery"] for s in steps], marker="o", color=COLOURS[server], label=server)
    delivered.set_ylabel("deliveries/s")
    delivered.set_title("Deliveries per second")
    cost.set_ylabel("server CPU µs per delivery")
    cost.set_ylim(bottom=0)
    cost.set_title("Server CPU per delivery (lower is better)")
    for axes in (delivered, cost):
        axes.set_xlabel("offered messages/s")
        # half a width each: fewer labels, or they touch (at round steps: 4,000, not 3,000)
        axes.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 4, 5, 10]))
        axes.xaxis.set_major_formatter(NUMBER)
        axes.grid(True, alpha=0.3)
        _legend(axes)
    delivered.yaxis.set_major_formatter(NUMBER)
    figure.suptitle(f"Fan-out throughput and cost — {when}")
    return figure


def idle(results: dict, when: str) -> Figure | None:
    """Memory per idle connection and how fast connections open, server beside server."""
    rows = {s: results[s]["idle"][0] for s in SERVERS if results.get(s, {}).get("idle")}
    if not rows:
        return None
    count = next(iter(rows.values()))["count"]
    return _bars(
        rows,
        [
            ("RSS per idle connection, KB (lower is better)", lambda s: s["rss_per_connection"] / 1024, "{:,.1f}"),
            (f"connections opened per second ({count:,}, 100 at a time)", lambda s: s["connects_per_s"], "{:,.0f}"),
        ],
        f"Idle connections — {when}",
    )


def churn(results: dict, when: str) -> Figure | None:
    """Joins per second under churn, and the room lists each join costs the idle clients."""
    rows = {s: results[s]["churn"][0] for s in SERVERS if results.get(s, {}).get("churn")}
    if not rows:
        return None
    return _bars(
        rows,
        [
            ("joins per second (connect → enter_room → disconnect)", lambda s: s["joins_per_s"], "{:,.0f}"),
            ("room_change frames per join (log scale)", lambda s: s["room_change_per_join"], "{:,.1f}"),
        ],
        f"Churn with idle clients connected — {when}",
        log=(False, True),
    )


def join(results: dict, when: str) -> Figure | None:
    """Call set-up: every run's time from the click on Join, its median and the target, per call size."""
    calls = results.get("videochat", {}).get("callsetup")
    if not calls:
        return None
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    measures = (("first_frame_ms", "first remote frame", "tab:blue"), ("all_pairs_ms", "every pair plays", "tab:green"))
    ticks, labels = [], []
    for group, call in enumerate(calls):
        for offset, (key, name, colour) in enumerate(measures):
            x = group * 3 + offset
            ticks.append(x)
            labels.append(f"{call['participants']} people\n{name}")
            # every run a dot, spread a little sideways so equal times stay visible; a run still
            # disturbed by other load hollow
            runs = call.get("runs", [])
            for i, run in enumerate(runs):
                axes.plot(
                    x + (i - (len(runs) - 1) / 2) * 0.5 / len(runs),
                    run[key],
                    "o",
                    color=colour,
                    markerfacecolor="white" if run.get("disturbed") else colour,
                    alpha=0.8,
                )
            axes.hlines(call[key], x - 0.35, x + 0.35, color="black", linewidth=2)
            axes.annotate(
                f"{call[key]:,.0f} ms",
                (x + 0.37, call[key]),
                va="center",
                fontsize=8,
            )
            target = TARGETS_MS.get(call["participants"])
            if target and target[0] == key:
                axes.hlines(target[1], x - 0.45, x + 0.45, color="red", linestyle="--", linewidth=1)
                axes.annotate(
                    f"target {target[1]} ms",
                    (x - 0.45, target[1]),
                    textcoords="offset points",
                    xytext=(0, 3),
                    color="red",
                    fontsize=8,
                )
    axes.set_xticks(ticks, labels)
    axes.set_xlim(-0.7, ticks[-1] + 1.0)
    axes.set_ylim(bottom=0)
    axes.set_ylabel("ms from the click on Join")
    axes.yaxis.set_major_formatter(NUMBER)
    axes.grid(True, axis="y", alpha=0.3)
    stalled = sum(c["stalled_joins"] for c in calls)
    axes.set_title(
        f"Call set-up in headless Chromium — {when}\n{calls[0]['repeats']} runs each; line: median; "
        f"hollow: disturbed by other load; joins stalled (over {STALL_MS / 1000:.0f} s): {stalled}",
        fontsize=10,
    )
    return figure


# name in the file (and the report's link) → what draws it
PICTURES: dict[str, Callable[[dict, str], Figure | None]] = {
    "fanout-latency": fanout_latency,
    "fanout-throughput": fanout_throughput,
    "idle": idle,
    "churn": churn,
    "join": join,
}


# --- shared pieces ------------------------------------------------------------------------------


def _mark_doubtful_steps(axes: Axes, steps: list[dict], key: str) -> None:
    """Cross the steps that lost messages and ring those disturbed by other load (the ⚠ of the tables)."""
    lost = [s for s in steps if s["lost"] and s[key] is not None]
    if lost:
        axes.plot([s["rate"] for s in lost], [s[key] for s in lost], "x", color="red", markersize=10, label=LOST)
    disturbed = [s for s in steps if s.get("disturbed") and s[key] is not None]
    if disturbed:
        axes.plot(
            [s["rate"] for s in disturbed],
            [s[key] for s in disturbed],
            "o",
            markersize=12,
            markerfacecolor="none",
            color="black",
            label=DISTURBED,
        )


def _legend(axes: Axes) -> None:
    """A legend naming each thing once (every server adds its own marks of doubtful steps), the
    servers' lines first."""
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    unique = {label: unique[label] for label in sorted(unique, key=lambda label: label in (LOST, DISTURBED))}
    axes.legend(unique.values(), unique.keys(), fontsize=8)


def _bars(
    rows: dict[str, dict],
    panels: list[tuple[str, Callable[[dict], float], str]],
    title: str,
    log: tuple[bool, ...] = (),
) -> Figure:
    """Panels of one bar per server, each bar labelled with its value."""
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    for index, (axes, (name, value, form)) in enumerate(zip(figure.subplots(1, len(panels)), panels, strict=True)):
        servers = list(rows)
        values = [value(rows[s]) for s in servers]
        bars = axes.bar(servers, values, color=[COLOURS[s] for s in servers])
        axes.bar_label(
            bars,
            [form.format(v) + (" ⚠" if rows[s].get("disturbed") else "") for s, v in zip(servers, values, strict=True)],
        )
        if index < len(log) and log[index]:
            axes.set_yscale("log")
        axes.yaxis.set_major_formatter(NUMBER)
        axes.margins(y=0.15)
        axes.set_title(name, fontsize=10)
        axes.grid(True, axis="y", alpha=0.3)
    figure.suptitle(title)
    return figure


# --- files --------------------------------------------------------------------------------------


def draw(report: dict, stem: Path) -> dict[str, str]:
    """Write the report's pictures as `stem`-NAME.png; return each name → the file's name (for links)."""
    when = report["meta"]["when"]
    written = {}
    for name, picture in PICTURES.items():
        figure = picture(report["results"], when)
        if figure is None:
            continue
        path = stem.with_name(f"{stem.name}-{name}.png")
        # no "Software" stamp: a redrawn baseline changes only where its picture does
        figure.savefig(path, format="png", metadata={"Software": None})
        written[name] = path.name
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path, help="report JSON files (bench/results/report-*.json)")
    args = parser.parse_args()
    from run import write_report  # (run.py imports this module: at use, not at load)

    for path in args.reports:
        report = json.loads(path.read_text())
        stem = path.with_suffix("")
        plots = draw(report, stem)
        markdown = path.with_suffix(".md")
        markdown.write_text(write_report(report["results"], report["meta"], plots))
        print(f"{path}: {', '.join(plots.values()) or 'nothing to draw'}; {markdown} links them")
    return 0


if __name__ == "__main__":
    sys.exit(main())

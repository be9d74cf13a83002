"""Run videochat and the Node.js reference side by side under the same load; write a markdown report.

Each server runs alone, pinned to CPU 0; the load generator (bench/load/loadgen.mjs) runs on CPU 1.
Server CPU time and memory come from /proc. A step during which other processes used more than
--max-other-load of a core is repeated (up to twice) and marked in the report. The report's plots
(bench/plots.py) are PNG files beside it.
Usage: bench/run [--quick] [--out FILE] [--only fanout,idle,churn,agreement]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LISTENING = re.compile(r"listening on (http://[^\s]+)")
SERVER_CPU, LOAD_CPU = "0", "1"

FULL = {
    "fanout": {
        "rooms": 50,
        "perRoom": 10,
        "rates": [500, 1000, 2000, 4000, 6000, 8000, 10000, 12000, 14000],
        "seconds": 5,
    },
    "agreement": {"rooms": 50, "perRoom": 10, "rates": [250, 500, 1000], "seconds": 4},
    "idle": {"count": 5000},
    "churn": {"idle": 500, "loops": 20, "seconds": 10, "rooms": 50},
    "callsetup": {"repeats": 10},
}
QUICK = {
    "fanout": {"rooms": 20, "perRoom": 10, "rates": [500, 2000], "seconds": 2},
    "agreement": {"rooms": 20, "perRoom": 10, "rates": [250], "seconds": 2},
    "idle": {"count": 500},
    "churn": {"idle": 100, "loops": 5, "seconds": 3, "rooms": 10},
    "callsetup": {"repeats": 2},
}


# --- measuring -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for child in [pid, *children(pid)]:
        try:
            total += cpu_seconds(child)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    result = [int(c) for c in found]
    for child in list(result):
        result.extend(children(child))
    return result


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_seconds() -> float:
    """CPU time spent busy by the whole machine (all cores), in seconds."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class Window:
    """CPU used between two moments by the server, the load generator and everything else."""

    server_pid: int
    load_pid: int
    start: tuple[float, float, float, float] = field(default=(0, 0, 0, 0))

    def begin(self) -> None:
        self.start = (
            time.monotonic(),
            machine_busy_seconds(),
            tree_cpu_seconds(self.server_pid),
            cpu_seconds(self.load_pid),
        )

    def end(self) -> dict[str, float]:
        wall, busy, server, load = (
            time.monotonic(),
            machine_busy_seconds(),
            tree_cpu_seconds(self.server_pid),
            cpu_seconds(self.load_pid),
        )
        wall -= self.start[0]
        server -= self.start[2]
        load -= self.start[3]
        other = max(0.0, (busy - self.start[1]) - server - load)
        return {"wall": wall, "server_cpu": server, "load_cpu": load, "other_cores": other / wall if wall else 0}


def wait_for_quiet_machine(max_other: float, patience: float) -> float:
    """Wait (up to `patience` seconds) until the machine's load is below `max_other` of a core."""
    deadline = time.monotonic() + patience
    while True:
        before, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - before) / (time.monotonic() - t0)
        if load <= max_other or time.monotonic() > deadline:
            return load


# --- processes -------------------------------------------------------------------------------


class Process:
    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
        )
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(30):
            self.stop()
            raise RuntimeError(f"{name} did not start:\n" + "".join(self.lines[-40:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and not self._ready.is_set():
                self.url = match.group(1)
                self._ready.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_server(kind: str, data_dir: Path) -> Process:
    pin = ["taskset", "-c", SERVER_CPU]
    if kind == "videochat":
        # The load comes from one address at rates no person sends: lift the abuse limits (the
        # reference has none), keep every other default.
        unlimited = [
            "--max-connections-per-ip",
            "0",
            "--max-tcp-connections-per-ip",
            "0",
            "--max-rooms-per-ip",
            "0",
            "--ip-rate-factor",
            "1",
        ]
        for kind_ in ("message", "join", "nickname", "signal", "request"):
            unlimited += [f"--{kind_}-rate", "1000000", f"--{kind_}-burst", "1000000"]
        command = [
            *pin,
            sys.executable,
            "-m",
            "videochat",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *unlimited,
        ]
        return Process(kind, command, env={"PYTHONPATH": str(ROOT / "src")})
    return Process(kind, [*pin, "node", str(BENCH / "reference" / "server.mjs"), "0"])


class LoadGenerator:
    def __init__(self, scenario: str, url: str, options: dict) -> None:
        command = [
            "taskset",
            "-c",
            LOAD_CPU,
            "node",
            str(BENCH / "load" / "loadgen.mjs"),
            scenario,
            url,
            json.dumps(options),
        ]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=BENCH)

    def read(self, timeout: float = 300.0) -> dict:
        assert self.proc.stdout is not None
        # a scenario that stalls (say connections that never open on a starved machine) must not
        # hang the whole run: the load generator is stopped after `timeout` seconds of silence
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not line:
            raise RuntimeError(f"load generator ended (exit {self.proc.wait()}; silent for {timeout:.0f} s?)")
        message = json.loads(line)
        if message["event"] == "error":
            raise RuntimeError("load generator failed: " + message["message"])
        return message

    def expect(self, event: str) -> dict:
        message = self.read()
        if message["event"] != event:
            raise RuntimeError(f"expected {event} from the load generator, got {message}")
        return message

    def tell(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        self.expect("done")
        self.proc.wait(30)


def run_steps(load: LoadGenerator, server: Process, max_other: float, on_start=None, on_end=None) -> list[dict]:
    """Drive a scenario's steps, measuring each; repeat a disturbed step up to twice."""
    steps, attempts = [], 0
    while True:
        message = load.read()
        if message["event"] in ("ready",):
            continue
        if message["event"] == "done":
            return steps
        if message["event"] != "step_start":
            raise RuntimeError(f"unexpected {message}")
        window = Window(server.pid, load.proc.pid)
        window.begin()
        extra_start = on_start() if on_start else None
        result = load.expect("step_end")
        measured = window.end()
        if on_end:
            result.update(on_end(extra_start))
        result.update(measured)
        disturbed = measured["other_cores"] > max_other
        if disturbed and attempts < 2:
            attempts += 1
            load.tell("repeat")
            continue
        result["disturbed"] = disturbed
        result["repeats"] = attempts
        steps.append(result)
        attempts = 0
        load.tell("next")


# --- scenarios --------------------------------------------------------------------------------


def scenario_fanout(server: Process, options: dict, max_other: float, client: str = "lean") -> list[dict]:
    load = LoadGenerator("fanout", server.url, {**options, "client": client})
    steps = run_steps(load, server, max_other)
    for step in steps:
        step["server_us_per_delivery"] = 1e6 * step["server_cpu"] / step["delivered"] if step["delivered"] else None
        step["clean"] = step["lost"] == 0 and step["p99_ms"] is not None and step["p99_ms"] < 100
    return steps


def scenario_idle(server: Process, options: dict, max_other: float) -> list[dict]:
    load = LoadGenerator("idle", server.url, options)
    # (a repeated step starts with memory the allocator kept from the first try: the first try's
    # baseline is the fair one, so it is kept)
    baseline = rss_bytes(server.pid)
    steps = run_steps(
        load, server, max_other, on_end=lambda _: {"rss_before": baseline, "rss_after": _settled_rss(server.pid)}
    )
    for step in steps:
        step["rss_per_connection"] = (step["rss_after"] - step["rss_before"]) / step["count"]
    return steps


def _settled_rss(pid: int) -> int:
    """RSS once it stops growing (connections finish their set-up a moment after the handshake)."""
    last = rss_bytes(pid)
    for _ in range(20):
        time.sleep(0.25)
        current = rss_bytes(pid)
        if abs(current - last) < 64 * 1024:
            return current
        last = current
    return last


def scenario_churn(server: Process, options: dict, max_other: float) -> list[dict]:
    return run_steps(LoadGenerator("churn", server.url, options), server, max_other)


def profile_videochat(server: Process, options: dict, rate: int, seconds: int) -> list[tuple[str, float]]:
    """py-spy samples of the videochat server under a steady fan-out; the top functions by own time."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return []
    load = LoadGenerator("fanout", server.url, {**options, "rates": [rate], "seconds": seconds + 2})
    load.expect("ready")
    load.expect("step_start")
    with tempfile.NamedTemporaryFile(suffix=".txt") as out:
        subprocess.run(
            [
                py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(seconds),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                out.name,
                "--nonblocking",
            ],
            capture_output=True,
            timeout=seconds + 30,
        )
        raw = Path(out.name).read_text()
    load.expect("step_end")
    load.tell("next")
    load.finish()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        own[re.sub(r" \(.*?/site-packages/", " (", leaf)] += int(count)
        total += int(count)
    return [(name, 100 * n / total) for name, n in own.most_common(15)] if total else []


# --- report -----------------------------------------------------------------------------------


def best_clean_rate(steps: list[dict]) -> int | None:
    clean = [s["rate"] for s in steps if s.get("clean")]
    return max(clean) if clean else None


def closest(steps: list[dict], rate: int) -> dict | None:
    return min(steps, key=lambda s: abs(s["rate"] - rate)) if steps else None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def picture(plots: dict[str, str], name: str, caption: str) -> list[str]:
    """A markdown image of one of the report's plots (bench/plots.py), if it was drawn."""
    return [f"![{caption}]({plots[name]})", ""] if name in plots else []


def write_report(results: dict, meta: dict, plots: dict[str, str] | None = None) -> str:
    """The markdown report; `plots` (bench/plots.py's draw) names the pictures to link, beside it."""
    plots = plots or {}
    out = [f"# videochat benchmark — {meta['when']}", ""]
    out += [
        f"Machine: {meta['machine']}. Server pinned to CPU {SERVER_CPU}, load generator to CPU {LOAD_CPU}. "
        f"Load on the machine before starting: {meta['quiet_load']:.2f} cores. "
        f"Steps disturbed by other load (> {meta['max_other']:.2f} of a core) were repeated up to twice; "
        "those still disturbed are marked ⚠.",
        "",
    ]
    servers = [s for s in ("videochat", "reference") if s in results]
    fan = {s: results[s].get("fanout", []) for s in servers}
    if any(fan.values()):
        out += ["## 1. Fan-out (each message delivered to the 9 others in its room)", ""]
        for server in servers:
            out += [
                f"### {server}",
                "",
                "| offered msgs/s | delivered/s | lost | p50 ms | p99 ms | max ms | "
                "server CPU µs/delivery | server CPU % | |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for s in fan[server]:
                out.append(
                    f"| {s['rate']:,} | {fmt(s['delivered_per_s'], 0)} | {s['lost']:,} | {fmt(s['p50_ms'], 2)} | "
                    f"{fmt(s['p99_ms'], 2)} | {fmt(s['max_ms'], 1)} | {fmt(s['server_us_per_delivery'])} | "
                    f"{100 * s['server_cpu'] / s['wall']:.0f} | {'⚠' if s['disturbed'] else ''} |"
                )
            out.append("")
        if len(servers) == 2:
            v, r = fan["videochat"], fan["reference"]
            bv, br = best_clean_rate(v), best_clean_rate(r)
            cv, cr = closest(v, 1000), closest(r, 1000)
            mv = max((s["delivered_per_s"] for s in v), default=None)
            mr = max((s["delivered_per_s"] for s in r), default=None)
            out += [
                "| measure | videochat | reference | videochat / reference |",
                "|---|---|---|---|",
                f"| highest clean rate (p99 < 100 ms, nothing lost), msgs/s | {fmt(bv)} | {fmt(br)} | {ratio(bv, br)} |",
                f"| most deliveries/s | {fmt(mv, 0)} | {fmt(mr, 0)} | {ratio(mv, mr)} |",
                f"| server CPU µs per delivery near 1,000 msgs/s | {fmt(cv and cv['server_us_per_delivery'])} | "
                f"{fmt(cr and cr['server_us_per_delivery'])} | "
                f"{ratio(cv and cv['server_us_per_delivery'], cr and cr['server_us_per_delivery'])} |",
                "",
            ]
        out += picture(plots, "fanout-latency", "Fan-out latency (p50, p99) against offered rate")
        out += picture(plots, "fanout-throughput", "Fan-out deliveries per second and server CPU per delivery")
    if "agreement" in results.get("reference", {}):
        out += [
            "## Load generator check: lean client vs socket.io-client (reference server)",
            "",
            "| offered msgs/s | lean delivered/s | official delivered/s | lean p50 ms | official p50 ms | lost (lean/official) |",
            "|---|---|---|---|---|---|",
        ]
        lean = {s["rate"]: s for s in results["reference"]["agreement"]["lean"]}
        for s in results["reference"]["agreement"]["official"]:
            lean_row = lean.get(s["rate"])
            if lean_row:
                out.append(
                    f"| {s['rate']:,} | {fmt(lean_row['delivered_per_s'], 0)} | {fmt(s['delivered_per_s'], 0)} | "
                    f"{fmt(lean_row['p50_ms'], 2)} | {fmt(s['p50_ms'], 2)} | {lean_row['lost']}/{s['lost']} |"
                )
        out.append("")
    if any("idle" in results[s] for s in servers):
        out += [
            "## 2. Idle connections",
            "",
            "| server | connections | connects/s | RSS before MB | RSS after MB | KB per connection | |",
            "|---|---|---|---|---|---|---|",
        ]
        for server in servers:
            for s in results[server].get("idle", []):
                out.append(
                    f"| {server} | {s['count']:,} | {fmt(s['connects_per_s'], 0)} | {s['rss_before'] / 2**20:.1f} | "
                    f"{s['rss_after'] / 2**20:.1f} | {s['rss_per_connection'] / 1024:.1f} | {'⚠' if s['disturbed'] else ''} |"
                )
        if len(servers) == 2 and results["videochat"].get("idle") and results["reference"].get("idle"):
            v, r = results["videochat"]["idle"][0], results["reference"]["idle"][0]
            out += [
                "",
                f"Memory per idle connection, videochat / reference: "
                f"**{ratio(v['rss_per_connection'], r['rss_per_connection'])}**",
            ]
        out.append("")
        out += picture(plots, "idle", "Memory per idle connection and connections opened per second")
    if any("churn" in results[s] for s in servers):
        out += [
            "## 3. Churn (connect → enter_room → disconnect loops, with idle clients connected)",
            "",
            "| server | joins | joins/s | room_change frames per join | server CPU % | |",
            "|---|---|---|---|---|---|",
        ]
        for server in servers:
            for s in results[server].get("churn", []):
                out.append(
                    f"| {server} | {s['joins']:,} | {fmt(s['joins_per_s'])} | {fmt(s['room_change_per_join'])} | "
                    f"{100 * s['server_cpu'] / s['wall']:.0f} | {'⚠' if s['disturbed'] else ''} |"
                )
        if len(servers) == 2 and results["videochat"].get("churn") and results["reference"].get("churn"):
            v, r = results["videochat"]["churn"][0], results["reference"]["churn"][0]
            out += ["", f"Joins per second, videochat / reference: **{ratio(v['joins_per_s'], r['joins_per_s'])}**"]
        out.append("")
        out += picture(plots, "churn", "Joins per second and room_change frames per join")
    calls = results.get("videochat", {}).get("callsetup")
    out += ["## 4. Call setup in headless Chromium (videochat only; the reference has no call page)", ""]
    if calls:
        from callsetup import STALL_MS, TARGETS_MS

        measures = {"first_frame_ms": "first remote frame", "all_pairs_ms": "every pair playing"}
        targets = ", ".join(
            f"{measures[key]} ≤ {ms} ms for {people} people" for people, (key, ms) in TARGETS_MS.items()
        )
        out += [
            "A newcomer clicks Join in a call the others already hold; medians of "
            f"{calls[0]['repeats']} runs, loopback. Targets: {targets}.",
            "",
            "| people | Join → first remote frame, ms | Join → every pair plays, ms | slowest run, ms | "
            f"joins stalled (> {STALL_MS / 1000:.0f} s) | runs repeated | runs still disturbed | host speed, ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {c['participants']} | {c['first_frame_ms']:.0f} | {c['all_pairs_ms']:.0f} | {c['slowest_ms']:.0f} | "
            f"{c['stalled_joins']} of {c['joins']} | {c.get('repeated', 0)} | "
            f"{c.get('disturbed', 0)}{' ⚠' if c.get('disturbed') else ''} | "
            f"{' → '.join(str(ms) for ms in c.get('host_speed_ms', []))} |"
            for c in calls
        ]
        out += [
            "",
            "*Host speed*: a fixed piece of Python work timed before and after (lower is faster; "
            "bench/README.md). The host is shared: compare call set-up numbers of runs whose hosts ran at "
            "similar speeds.",
            "",
        ]
        out += picture(plots, "join", "Call set-up: every run's time from the click on Join, medians and targets")
    else:
        out += ["Not measured in this run.", ""]
    if results.get("videochat", {}).get("profile"):
        out += [
            "## Where videochat spends its time (py-spy, own time, fan-out at a steady rate)",
            "",
            "| % of samples | function |",
            "|---|---|",
        ]
        out += [f"| {share:.1f} | `{name}` |" for name, share in results["videochat"]["profile"]]
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run to check the tools (minutes → seconds)")
    parser.add_argument("--only", default="fanout,agreement,idle,churn,profile,callsetup")
    parser.add_argument("--servers", default="videochat,reference")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--max-other-load", type=float, default=0.15, dest="max_other")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("the benchmark needs 2 cores: one for the server, one for the load generator", file=sys.stderr)
        return 2
    config = QUICK if args.quick else FULL
    wanted = set(args.only.split(","))
    quiet = wait_for_quiet_machine(args.max_other, patience=60)
    print(f"machine load before starting: {quiet:.2f} cores", file=sys.stderr)
    kinds = args.servers.split(",")
    results: dict = {kind: {} for kind in kinds}
    # Scenario by scenario, the servers one after the other: the two sides of a ratio are measured
    # minutes apart rather than a whole run apart (this host's speed drifts within the hour).
    for name in ("idle", "fanout", "churn", "agreement", "profile", "callsetup"):
        for kind in kinds:
            if (
                name not in wanted
                or (name == "agreement" and kind != "reference")
                or (name in ("profile", "callsetup") and kind != "videochat")
            ):
                continue
            with tempfile.TemporaryDirectory() as data_dir:
                server = start_server(kind, Path(data_dir))  # a fresh server (and database) per scenario
                try:
                    print(f"{kind}: {name}", file=sys.stderr)
                    if name == "fanout":
                        results[kind][name] = scenario_fanout(server, config["fanout"], args.max_other)
                    elif name == "agreement":
                        results[kind][name] = {
                            client: scenario_fanout(server, config["agreement"], args.max_other, client)
                            for client in ("lean", "official")
                        }
                    elif name == "idle":
                        results[kind][name] = scenario_idle(server, config["idle"], args.max_other)
                    elif name == "churn":
                        results[kind][name] = scenario_churn(server, config["churn"], args.max_other)
                    elif name == "callsetup":
                        from callsetup import measure

                        results[kind][name] = [
                            asyncio.run(
                                measure(
                                    server.url,
                                    people,
                                    config["callsetup"]["repeats"],
                                    server_pid=server.pid,
                                    max_other=args.max_other,
                                )
                            )
                            for people in (2, 4)
                        ]
                    elif name == "profile":
                        results[kind][name] = profile_videochat(
                            server, config["fanout"], rate=1000, seconds=3 if args.quick else 8
                        )
                except RuntimeError as error:  # one scenario failing leaves the others' results
                    print(f"{kind}: {name} failed, left out of the report: {error}", file=sys.stderr)
                finally:
                    server.stop()
    meta = {
        "when": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}",
        "quiet_load": quiet,
        "max_other": args.max_other,
    }
    out = args.out or BENCH / "results" / f"report-{datetime.datetime.now():%Y%m%d-%H%M%S}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The numbers first: a run's minutes of measuring must survive whatever the drawing does.
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    try:
        from plots import draw

        plots = draw({"meta": meta, "results": results}, out.with_suffix(""))
    except Exception as error:  # the report without pictures, and why (redraw: bench/plots.py)
        print(f"plots not drawn: {error!r}", file=sys.stderr)
        plots = {}
    report = write_report(results, meta, plots)
    out.write_text(report)
    print(report)
    print(f"\nreport written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

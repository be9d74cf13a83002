"""The benchmark report's pictures: bench/plots.py draws PNG files from a report's JSON, beside it,
and rewrites the markdown report to link them (bench/run.py does the same at the end of a run)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

BENCH = Path(__file__).parents[1] / "bench"
BASELINE = json.loads((BENCH / "BASELINE.json").read_text())
EVERY_PICTURE = {"fanout-latency", "fanout-throughput", "idle", "churn", "join"}
SERVER_COLOURS = {"videochat": "tab:blue", "reference": "tab:orange"}  # bench/plots.py's COLOURS
IMAGE_LINK = re.compile(r"!\[[^\]]+\]\(([^)]+)\)")


def draw(tmp_path: Path, report: dict) -> str:
    """Run bench/plots.py on `report` saved as tmp_path/report-test.json; the markdown it writes."""
    path = tmp_path / "report-test.json"
    path.write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, str(BENCH / "plots.py"), str(path)], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return path.with_suffix(".md").read_text()


def pictures(folder: Path, stem: str) -> dict[str, Path]:
    return {p.name.removeprefix(f"{stem}-").removesuffix(".png"): p for p in folder.glob(f"{stem}-*.png")}


def png_dimensions(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header, which must be one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def pixels_of(path: Path, colour: str) -> int:
    """How many of the picture's pixels are (nearly) `colour`."""
    image = imread(path)[:, :, :3]
    return int((np.abs(image - np.array(to_rgb(colour))).max(axis=2) < 0.05).sum())


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, str]:
    """The baseline's report drawn once for the tests that read it: the folder, the markdown."""
    folder = tmp_path_factory.mktemp("full")
    return folder, draw(folder, BASELINE)


def test_a_full_report_gets_every_picture_linked_from_its_markdown(full):
    folder, markdown = full
    drawn = pictures(folder, "report-test")
    assert set(drawn) == EVERY_PICTURE
    for path in drawn.values():
        width, height = png_dimensions(path)
        assert 600 <= width <= 2000 and 300 <= height <= 1500, (path.name, width, height)
        assert path.stat().st_size > 10_000, f"{path.name} is nearly empty"
    # each picture linked once, under its section; the tables are all still there
    assert sorted(IMAGE_LINK.findall(markdown)) == sorted(p.name for p in drawn.values())
    sections = re.split(r"^## ", markdown, flags=re.M)
    for name, heading in [("fanout-latency", "1. Fan-out"), ("idle", "2. Idle"), ("churn", "3. Churn")]:
        section = next(s for s in sections if s.startswith(heading))
        assert f"(report-test-{name}.png)" in section
    for row in (
        "| 14,000 | 125,572 | 0 |",
        "| videochat | 5,000 | 2,002 |",
        "| reference | 892 |",
        "| 2 | 138 | 157 |",
    ):
        assert row in markdown


def test_both_servers_are_drawn_in_their_own_colours(full):
    latency = pictures(full[0], "report-test")["fanout-latency"]
    for server, colour in SERVER_COLOURS.items():
        assert pixels_of(latency, colour) > 1000, f"no {server} line in the latency plot"


def test_a_partial_run_gets_the_pictures_of_what_it_measured(tmp_path):
    # what `bench/run --only fanout --servers videochat` writes
    report = {
        "meta": BASELINE["meta"],
        "results": {"videochat": {"fanout": BASELINE["results"]["videochat"]["fanout"]}},
    }
    markdown = draw(tmp_path, report)

    drawn = pictures(tmp_path, "report-test")
    assert set(drawn) == {"fanout-latency", "fanout-throughput"}
    assert sorted(IMAGE_LINK.findall(markdown)) == sorted(p.name for p in drawn.values())
    assert pixels_of(drawn["fanout-latency"], SERVER_COLOURS["videochat"]) > 1000
    assert pixels_of(drawn["fanout-latency"], SERVER_COLOURS["reference"]) == 0


def test_the_committed_baseline_links_its_pictures():
    linked = IMAGE_LINK.findall((BENCH / "BASELINE.md").read_text())
    assert sorted(linked) == sorted(f"BASELINE-{name}.png" for name in EVERY_PICTURE)
    for name in linked:
        png_dimensions(BENCH / name)

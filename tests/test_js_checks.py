"""The browser scripts checked like the server's code: their JSDoc types by TypeScript (jsconfig.json),
their logic and protocol.js by Node's test runner (tests/js/), protocol.js against a real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]
TSC = ROOT / "node_modules" / ".bin" / "tsc"


def test_the_browser_scripts_pass_typescripts_checks():
    assert TSC.exists(), "TypeScript is an npm devDependency: run bash scripts/setup"
    result = subprocess.run(
        [str(TSC), "-p", "jsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_js_unit_tests_pass_against_a_real_server(fresh_server):
    node = shutil.which("node")
    assert node, "Node.js is installed by scripts/setup"
    result = subprocess.run(
        [node, "--import", "./tests/js/vendor.mjs", "--test", "tests/js/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "VIDEOCHAT_URL": fresh_server.url},
        check=False,
    )
    # the failed subtests first (a long TAP output gets cut in pytest's report), then everything
    failed = re.findall(r"^\s*not ok .*?^\s*\.\.\.$", result.stdout, flags=re.M | re.S)
    report = "FAILED:\n" + "\n".join(failed) + "\n\nALL:\n" + result.stdout + result.stderr + fresh_server.log
    assert result.returncode == 0, report
    totals = dict(re.findall(r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", result.stdout, flags=re.M))
    assert int(totals["tests"]) > 0 and int(totals["pass"]) == int(totals["tests"]), report
    assert totals["skipped"] == "0", "with a server, nothing is skipped\n" + report

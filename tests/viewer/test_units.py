"""The viewer's pure JavaScript parts (geodesic measuring, i18n table, live merging, legends),
tested with Node's own test runner."""

from __future__ import annotations

import shutil
import subprocess

from cim.testing import need as _need
from tests.viewer.conftest import ROOT


def test_the_viewer_units_pass_under_node():
    node = shutil.which("node")
    _need(node is not None, "node is missing: scripts/install-system.sh installs nodejs")
    _need((ROOT / "viewer" / "node_modules").is_dir(), "viewer/node_modules is missing: run `make viewer`")
    run = subprocess.run([node, "--test", "test/"], cwd=ROOT / "viewer", capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout

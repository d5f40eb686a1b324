"""`make demo` run again over its own output: refused at once, before any site or browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_earlier_demo_output_is_refused_up_front(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / "run" / "model.safetensors").write_bytes(b"weights")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"demo: {out} holds an earlier demo's run: pass --fresh to replace it "
        "(make demo DEMO_ARGS=--fresh) or another --out"
    ]
    assert result.stdout == ""
    assert sorted(path.name for path in out.iterdir()) == ["run"]

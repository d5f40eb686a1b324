"""benchmarks/serve.py: a rerun replaces the report at the top of its file, not what follows."""

from __future__ import annotations

from pathlib import Path

from benchmarks.serve import kept_sections


def test_a_rerun_keeps_the_sections_written_below_the_report(tmp_path: Path) -> None:
    out = tmp_path / "serve.md"
    analysis = "\n## Where the time goes\n\nA profile.\n\n## Earlier runs\n\n| a |\n"
    out.write_text("# Serving benchmark\n\n| old run |\n" + analysis, encoding="utf-8")
    assert kept_sections(out) == analysis


def test_a_first_run_or_a_bare_report_keeps_nothing(tmp_path: Path) -> None:
    assert kept_sections(tmp_path / "absent.md") == ""
    (tmp_path / "bare.md").write_text("# Serving benchmark\n\n| run |\n", encoding="utf-8")
    assert kept_sections(tmp_path / "bare.md") == ""

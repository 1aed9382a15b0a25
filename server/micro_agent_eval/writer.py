"""--report DIR: report.json and index.html, side by side."""

from __future__ import annotations

from pathlib import Path

from .html import render
from .report import EvalReport


def write_report(report: EvalReport, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    index = folder / "index.html"
    index.write_text(render(report), encoding="utf-8")
    return index

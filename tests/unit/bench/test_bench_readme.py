"""The README's bench summary is rewritten from a run's results between its markers, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corridor.bench import report

ROOT = Path(__file__).resolve().parents[3]


def _results() -> dict:
    return json.loads((ROOT / "bench" / "results.json").read_text())


def test_the_readme_carries_the_markers_and_the_committed_run() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(report.README_START) == 1 and text.count(report.README_END) == 1
    between = text.split(report.README_START)[1].split(report.README_END)[0]
    data = _results()
    # the summary in the README is the committed run's, machine line and target table included
    assert f"run `{data['run']['run_id']}`" in between
    assert f"{data['machine']['cores']} cores" in between
    for target in data["targets"]:
        assert f"| {target['target']} |" in between


def test_sync_replaces_only_what_is_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\nbefore\n{report.README_START}\nstale figures\n{report.README_END}\nafter\n",
        encoding="utf-8",
    )
    data = _results()
    assert report.sync_readme(readme, data)
    text = readme.read_text(encoding="utf-8")
    assert "stale figures" not in text
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{report.README_END}\nafter\n")
    assert f"run `{data['run']['run_id']}`" in text
    assert report.sync_readme(readme, data) and readme.read_text(encoding="utf-8") == text  # idempotent


@pytest.mark.parametrize("content", ["no markers at all\n", f"{report.README_END}\n{report.README_START}\n"])
def test_a_readme_without_proper_markers_is_left_alone(tmp_path: Path, content: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(content, encoding="utf-8")
    assert not report.sync_readme(readme, _results())
    assert readme.read_text(encoding="utf-8") == content

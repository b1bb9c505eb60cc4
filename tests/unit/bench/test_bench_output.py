"""Where ``corridor bench`` writes: only a full run lands in the committed ``bench/`` and the README."""

from __future__ import annotations

from pathlib import Path

from corridor.bench.run import output_dir, updates_readme
from corridor.core.settings import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"


def test_full_run_writes_the_committed_results() -> None:
    assert output_dir(None, quick=False, partial=False) == BENCH
    assert updates_readme(BENCH, quick=False, partial=False)


def test_quick_and_partial_runs_write_a_temporary_directory() -> None:
    for quick, partial in ((True, False), (False, True), (True, True)):
        out = output_dir(None, quick=quick, partial=partial)
        assert out.is_dir() and out.resolve() != BENCH.resolve()
        assert not out.resolve().is_relative_to(PROJECT_ROOT.resolve())
        out.rmdir()


def test_only_a_full_run_into_bench_rewrites_the_readme(tmp_path: Path) -> None:
    assert not updates_readme(BENCH, quick=True, partial=False)  # --quick --out bench
    assert not updates_readme(BENCH, quick=False, partial=True)  # --stage … --out bench
    assert not updates_readme(tmp_path, quick=False, partial=False)  # a full run elsewhere
    assert output_dir(tmp_path, quick=True, partial=False) == tmp_path  # --out wins

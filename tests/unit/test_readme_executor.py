"""tests/support/readme.py: which blocks of a document run, and how a session carries from one to the
next (the e2e test runs README.md and docs/*.md with it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.core.settings import PROJECT_ROOT
from tests.support import readme


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_blocks_run_by_language_and_markers(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "# t\n\n```bash\necho one\n```\n\n```\noutput only\n```\n\n"
        "<!-- readme-test: skip — needs a second machine -->\n```bash\nrm -rf /\n```\n\n"
        "<!-- readme-test: expect-exit 3; timeout 5 -->\n```sh\nexit 3\n```\n\n"
        "```python\nprint('py')\n```\n\n```json\n{}\n```\n",
    )
    blocks = readme.parse(doc)
    assert [(b.language, b.runs) for b in blocks] == [
        ("bash", True),
        ("", False),
        ("bash", False),
        ("sh", True),
        ("python", True),
        ("json", False),
    ]
    assert blocks[2].skip == "needs a second machine" and blocks[0].line == 3
    assert blocks[3].expect_exit == 3 and blocks[3].timeout_s == 5


@pytest.mark.parametrize(
    "marker",
    ["<!-- readme-test: skipp oops -->", "<!-- readme-test: skip -->", "<!-- readme-test: timeout x -->"],
)
def test_a_malformed_marker_is_an_error_not_a_silent_skip(tmp_path: Path, marker: str) -> None:
    with pytest.raises(readme.DocumentError):
        readme.parse(_doc(tmp_path, f"{marker}\n```bash\necho hi\n```\n"))


def test_a_session_carries_variables_and_directory_and_rewrites_addresses(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    doc = _doc(
        tmp_path,
        f"```bash\nWORK={work}\nNAME='a b'\ncd \"$WORK\"\n```\n\n"
        '<!-- readme-test: file "$WORK/hello.py" -->\n```python\nprint("hello from", __name__)\n```\n\n'
        '```bash\ntest "$NAME" = "a b" && test "$PWD" = "$WORK"\npython3 hello.py\n'
        "echo http://127.0.0.1:8080/x\n```\n\n"
        "<!-- readme-test: expect-exit 1 -->\n```bash\nfalse\n```\n",
    )
    blocks = readme.parse(doc)
    session = readme.Session(
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, addresses={"http://127.0.0.1:8080": "http://gw:1"}
    )
    outcomes = [session.run(b) for b in blocks]
    assert all(o.ok for o in outcomes), [o.report() for o in outcomes if not o.ok]
    assert (work / "hello.py").exists()
    assert "hello from __main__" in outcomes[2].output and "http://gw:1/x" in outcomes[2].output
    failing = session.run(readme.parse(_doc(tmp_path, "```bash\nexit 4\n```\n"))[0])
    assert not failing.ok and "exited 4" in failing.report()


def test_the_readme_walks_from_the_demo_to_a_first_trade() -> None:
    blocks = [b for b in readme.parse(PROJECT_ROOT / "README.md") if b.runs]
    codes = "\n".join(b.code for b in blocks)
    order = ["./corridor demo", "partners add", "OrderPlaced", "/v1/trades/$TRADE", "feed.py"]
    assert all(step in codes for step in order), order
    assert sorted(order, key=codes.index) == order
    assert "./corridor test" not in codes  # the suite does not run itself

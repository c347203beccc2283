"""The repository stands alone: no tracked file points outside it, and documented paths exist.

A clone from a code host has nothing beside it, so a reference to a sibling folder
(`../<sibling>/...`), to a machine's absolute path (`/work/...`, a home directory) or to a
document that is not in the repository only works on the machine it was written on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()

# Written in pieces so this file does not match itself.
OUTSIDE = [
    (re.compile(r"\.\./" + r"shared"), "a sibling folder of the checkout"),
    (re.compile(r"(?<![\w.])/" + r"work/"), "an absolute path on one machine"),
    (re.compile(r"(?<![\w.])/(?:home|Users)/[A-Za-z]"), "a home directory"),
    (re.compile(r"(?<![\w.~])/" + r"root/"), "root's home directory"),
    (re.compile(r"(?<![\w.])/tmp/" + r"team"), "a scratch folder on one machine"),
    (re.compile(r"\bBEHAV" + r"IOUR\.md\b"), "a document that is not in the repository (see docs/api-behaviour.md)"),
]
# Markdown names repository files in backticks: `docs/x.md`, `sources/gainsight_px/sql/`.
TOP_DIRS = ("docs", "spec", "sources", "tests", "bench", "pipelines", "notebooks", "examples", ".ci", ".dlt")
DOC_PATH = re.compile(r"`((?:" + "|".join(re.escape(d) for d in TOP_DIRS) + r")/[\w./-]*)`")
# Files a user creates (git-ignored): secrets the docs tell them to write, output a command writes.
USER_CREATED = {".dlt/secrets.toml", "pipelines/.dlt/", "pipelines/.dlt/secrets.toml",
                "notebooks/analyst_overview.out.ipynb"}
SKIP_SUFFIXES = {".png", ".jpg", ".parquet", ".duckdb", ".sqlite"}


def tracked_files() -> list[Path]:
    """`git ls-files` in a checkout; every file but build/tool folders in a plain copy."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        files = [REPO / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        ignore = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "dist"}
        files = [p for p in REPO.rglob("*")
                 if p.is_file() and not ignore & set(p.relative_to(REPO).parts)
                 and not any(part.endswith(".egg-info") for part in p.parts)]
    return [p for p in files if p.is_file() and p.suffix not in SKIP_SUFFIXES and p.resolve() != THIS]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            for pattern, what in OUTSIDE:
                if m := pattern.search(line):
                    found.append(f"{path.relative_to(REPO)}:{lineno}: {m.group(0)!r} is {what}")
    assert not found, "tracked files refer outside the repository:\n" + "\n".join(found)


# Numbers from a tracker mean nothing to a reader of the code, the docs or the output.
TRACKING = re.compile(r"(?i)\bissues?\s*#?\s*\d+|" + "\u00a7")


def test_nothing_mentions_internal_tracking_numbers() -> None:
    found = []
    for path in tracked_files():
        if path.relative_to(REPO).parts[0] == "spec":
            continue  # third-party API descriptions, as published
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if m := TRACKING.search(line):
                found.append(f"{path.relative_to(REPO)}:{lineno}: {m.group(0)!r}")
    assert not found, "tracking numbers in tracked files:\n" + "\n".join(found)
    assert TRACKING.search("see Issue 5 for details") and TRACKING.search("(issue #12)")
    assert not TRACKING.search("a known issue with DuckDB")


def test_the_checks_catch_what_they_are_for() -> None:
    for sample in ["see ../" "shared/spec/x.yml", "/" "work/shared/spec/x.yml", "in /home/alice/px",
                   "/" "root/.dlt", "BEHAV" "IOUR.md"]:
        assert any(p.search(sample) for p, _ in OUTSIDE), sample
    for fine in ["~/.dlt", "/var/dlt", "docs/api-behaviour.md", "/tmp", "/dev/null"]:
        assert not any(p.search(fine) for p, _ in OUTSIDE), fine


@pytest.mark.parametrize("doc", sorted(p.relative_to(REPO).as_posix() for p in tracked_files() if p.suffix == ".md"))
def test_paths_named_in_the_docs_exist(doc: str) -> None:
    text = (REPO / doc).read_text(encoding="utf-8")
    missing = sorted({m for m in DOC_PATH.findall(text) if "*" not in m and m not in USER_CREATED and not (REPO / m).exists()})
    assert not missing, f"{doc} names files that are not in the repository: {missing}"

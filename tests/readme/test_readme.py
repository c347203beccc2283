"""README.md runs as written: every block, in order, in a fresh copy of the repository (see readme_runner.py).

The quick start's demo runs for real (only its `pip install` is the venv running the
tests); then every command, snippet and query of the README against emulators on
loopback. A failure names the README line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.endpoints import DIALECTS
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY
from readme_runner import REPO, SETUP_PREFIX, Block, BlockFailed, Runner, base_env, make_copy, parse

README = REPO / "README.md"
TENANT = TenantSpec(users=250, accounts=25, features=40, engagements=30, subscriptions=3, seed=42)


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    started = {name: Emulator(tenant=TENANT, api_key=EMULATOR_API_KEY, dialect=dialect).start()
               for name, dialect in DIALECTS.items()}
    yield started
    for emu in started.values():
        emu.stop()


def postgres_credentials(request: pytest.FixtureRequest) -> dict[str, str]:
    try:
        url = request.getfixturevalue("postgres_url")
    except Exception as exc:  # no PostgreSQL here: blocks that need it fail and say so
        return {"README_RUNNER_NO_POSTGRES": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {"DESTINATION__POSTGRES__CREDENTIALS": url}


def test_every_block_of_the_readme_runs_as_written(tmp_path: Path, emulators: dict[str, Emulator],
                                                    request: pytest.FixtureRequest) -> None:
    workdir = make_copy(tmp_path / "gainsight-px")
    env = base_env(workdir)
    env[API_KEY_ENV] = EMULATOR_API_KEY
    env[BASE_URL_ENV] = emulators["contract"].base_url
    env.update(postgres_credentials(request))
    runner = Runner(workdir, env, {name: emu.base_url for name, emu in emulators.items()})

    report = []
    for block in parse(README.read_text(encoding="utf-8")):
        try:
            report.append(f"{block.where()}: {runner.run(block)}")
        except BlockFailed as exc:
            why = env.get("README_RUNNER_NO_POSTGRES")
            note = f"\n(no PostgreSQL for the README here: {why})" if why and "postgres" in str(exc) else ""
            raise AssertionError(f"{exc}{note}\n\nblocks before it:\n" + "\n".join(report)) from None
    print("\n".join(report))


def test_ci_runs_exactly_the_readme_test_command() -> None:
    blocks = parse(README.read_text(encoding="utf-8"))
    suite = [b for b in blocks if b.language == "bash" and b.code.startswith(SETUP_PREFIX) and "pytest" in b.code]
    assert len(suite) == 1, "the quick start's test-suite command"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert suite[0].code.strip() in [line.strip() for line in ci]


def test_documented_example_files_match_the_files() -> None:
    labelled = [b for b in parse(README.read_text(encoding="utf-8")) if b.label and b.language == "csv"]
    assert {b.label for b in labelled} >= {"examples/users.csv"}
    for block in labelled:
        assert (REPO / block.label).read_text(encoding="utf-8") == block.code, block.where()


# The runner's own rules, on small made-up READMEs.

def test_the_parser_reads_directives_labels_and_continuations() -> None:
    text = ("intro\n\n<!-- not-run: needs a browser -->\n```bash\njupyter lab\n```\n\n`examples/x.csv`:\n\n"
            "```csv\na,b\n```\n\n<!-- given: export A=1 -->\n<!-- emulator: published -->\n```bash\n"
            "echo one \\\n   two   # comment\n# only a comment\n```\n")
    blocks = parse(text)

    assert [b.language for b in blocks] == ["bash", "csv", "bash"]
    assert blocks[0].directives == {"not-run": ["needs a browser"]}
    assert blocks[1].label == "examples/x.csv"
    assert blocks[2].directives == {"given": ["export A=1"], "emulator": ["published"]}
    from readme_runner import shell_commands
    assert shell_commands(blocks[2].code) == ["echo one     two   # comment"]


def test_the_runner_refuses_what_would_change_its_venv_and_unknown_blocks(tmp_path: Path) -> None:
    runner = Runner(tmp_path, {}, {})
    with pytest.raises(BlockFailed, match="would change the venv"):
        runner.run(Block("bash", ".venv/bin/pip install -e .\n", 1))
    with pytest.raises(BlockFailed, match="unknown block type"):
        runner.run(Block("yaml", "a: 1\n", 1))
    with pytest.raises(BlockFailed, match="needs a reason"):
        runner.run(Block("bash", "true\n", 1, {"not-run": [""]}))
    assert runner.run(Block("text", "anything\n", 1)) == "shown"


def test_the_defaults_the_readme_states_are_the_code_s() -> None:
    import re

    from gainsight_px import settings
    from gainsight_px.demo import DEFAULT_USERS, DEMO_DUCKDB_FILE

    text = README.read_text(encoding="utf-8")
    rates = {float(m) for m in re.findall(r"(?:default `--rate` of |\(default )(\d+)(?:/s| requests/s)", text)}
    assert rates == {settings.DEFAULT_PUSH_RATE}, rates
    concurrency = {int(m) for m in re.findall(r"`--concurrency`[^)]*default (\d+)", text)}
    assert concurrency == {settings.DEFAULT_PUSH_CONCURRENCY}, concurrency
    assert f"The demo starts an emulator with {DEFAULT_USERS:,} users" in text
    assert f"`./{DEMO_DUCKDB_FILE}`" in text and f"`./{settings.DEFAULT_DUCKDB_FILE}`" in text
    minutes = round(50_000 / settings.DEFAULT_PUSH_RATE / 60 * 2) / 2  # to the half minute
    assert f"50,000 rows takes about {minutes:g} minutes" in text

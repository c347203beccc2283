"""Run README.md as a reader follows it: every fenced block, in order, in one fresh copy of the repo.

How each block is treated, by its info string:

- ```bash (or sh, shell): run as one bash script (`set -e`, so the first failing line fails the block),
  in the working directory of a copy of the repository, with `.venv` linked to the venv running the tests.
  `gainsight-px` is not on PATH: write `.venv/bin/gainsight-px`, as a reader without an activated venv must.
- ```python: run as a script with `.venv/bin/python`, in the same place.
- ```sql: each statement runs on `gainsight.duckdb` (read-only), which earlier blocks loaded.
- ```csv: when the line before the block names a file (`` `examples/users.csv`: ``), the block must equal
  that file exactly; otherwise it must parse as CSV.
- ```toml: must parse (a `# .dlt/<name>.toml` comment line starts a new file).
- ```text: output or illustration; not run. Use it for sample output, crontabs, synopses.
- Any other info string fails the test: pick one of the above, or mark the block.

The environment stands in for a user's configuration: `SOURCES__GAINSIGHT_PX__API_KEY` and `..._BASE_URL`
point at an emulator the runner started (contract dialect), `DESTINATION__POSTGRES__CREDENTIALS` at a
PostgreSQL database when the tests have one, and `DLT_DATA_DIR` into the copy. Placeholders:

- a line `export NAME=...` (literally three dots) is the reader putting in their own value: the runner
  keeps its own value for NAME and skips the line;
- the quick start's setup prefix `python3.11 -m venv .venv && .venv/bin/pip install -q -c constraints.txt
  -e ".[test]" && ` is skipped: the venv running the tests is that venv. Any other `pip install` or
  `-m venv` in a block that runs fails the test (it would change the venv running the tests).

Directives, as HTML comments on the lines right before a block (invisible on GitHub):

- `<!-- not-run: reason -->`: skip the block; the reason is required (e.g. it runs the test suite itself,
  or needs a browser).
- `<!-- given: shell command -->`: run this first, in the same script, to supply what the reader
  already has (a warehouse table, a variable). It must not change what the block does.
- `<!-- emulator: published -->`: point this block at a second tenant, an emulator speaking the published
  dialect (the dialect itself is left to detection). Like a second project folder, the block gets its own
  DuckDB file (`gainsight-published.duckdb`, via DESTINATION__DUCKDB__CREDENTIALS) and dlt state, shared
  with later blocks that name the same emulator.
- `<!-- background: TEXT -->`: the block's first command is a server: run it in the background until it
  prints TEXT, apply the `export` lines it printed to the rest of the block (as "in another shell, with
  the exports it printed" says), then stop it with Ctrl-C; it must exit 0.

Helpers adding a README section: make every block runnable as written against the emulator; if one
cannot be, mark it `text` (illustration) or `not-run` with the reason. `.venv/bin/python -m pytest -q -n 0
tests/readme` runs the whole README (a few minutes).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUP_PREFIX = 'python3.11 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[test]" && '
RUN_LANGUAGES = {"bash", "sh", "shell", "python", "sql"}
CHECK_LANGUAGES = {"csv", "toml"}
SHOW_LANGUAGES = {"text"}
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[\w+-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<name>not-run|given|emulator|background)\s*:\s*(?P<value>.*?)\s*-->\s*$")
_FILE_LABEL = re.compile(r"`(?P<path>[\w./-]+)`:\s*$")
_PLACEHOLDER = re.compile(r"^\s*export\s+[A-Z][A-Z0-9_]*=\.\.\.(\s|$)")


@dataclass
class Block:
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    directives: dict[str, list[str]] = field(default_factory=dict)
    label: str | None = None  # a file named on the line before (`path`:)

    def where(self) -> str:
        return f"README.md:{self.line} ({self.language} block)"


def parse(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with the directives and file label just before each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not m["info"] and not _closing_follows(lines, i):
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(m["indent"]):] if lines[i].startswith(m["indent"]) else lines[i])
            i += 1
        directives: dict[str, list[str]] = {}
        j = start - 1
        while j >= 0 and (not lines[j].strip() or (d := _DIRECTIVE.match(lines[j]))):
            if lines[j].strip():
                directives.setdefault(d["name"], []).insert(0, d["value"])
            j -= 1
        f = _FILE_LABEL.search(lines[j]) if j >= 0 else None
        label = f["path"] if f else None
        blocks.append(Block(m["info"] or "", "\n".join(body) + "\n", start + 1, directives, label))
        i += 1
    return blocks


def _closing_follows(lines: list[str], i: int) -> bool:
    return any(line.strip() == "```" for line in lines[i + 1:])


def shell_commands(code: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    commands: list[str] = []
    current = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        commands.append(current + line)
        current = ""
    if current:
        commands.append(current)
    return commands


class BlockFailed(AssertionError):
    pass


@dataclass
class Runner:
    """Runs blocks in `workdir` (a copy of the repository) with `env`."""

    workdir: Path
    env: dict[str, str]
    emulators: dict[str, str]  # dialect -> base URL
    log: list[str] = field(default_factory=list)

    def run(self, block: Block) -> str:
        """Run or check one block; returns what was done, for the test's report."""
        if "not-run" in block.directives:
            reason = block.directives["not-run"][0]
            if not reason:
                raise BlockFailed(f"{block.where()}: not-run needs a reason")
            return f"skipped: {reason}"
        language = block.language
        if language in SHOW_LANGUAGES:
            return "shown"
        if language == "csv":
            return self._csv(block)
        if language == "toml":
            return self._toml(block)
        if language in ("bash", "sh", "shell"):
            return self._bash(block)
        if language == "python":
            return self._python(block)
        if language == "sql":
            return self._sql(block)
        raise BlockFailed(f"{block.where()}: unknown block type {language!r}; use one of "
                          f"{sorted(RUN_LANGUAGES | CHECK_LANGUAGES | SHOW_LANGUAGES)} or <!-- not-run: reason -->")

    # ------------------------------------------------------------------ checks

    def _csv(self, block: Block) -> str:
        if block.label:
            actual = (REPO / block.label).read_text(encoding="utf-8")
            if actual != block.code:
                raise BlockFailed(f"{block.where()}: differs from {block.label}; show the whole file as it is "
                                  f"(the file has {len(actual.splitlines()) - 1} rows, the README "
                                  f"{len(block.code.splitlines()) - 1})")
            return f"equals {block.label}"
        list(csv.reader(io.StringIO(block.code)))
        return "parses"

    def _toml(self, block: Block) -> str:
        parts = re.split(r"(?m)^#\s*\.dlt/\w+\.toml\s*$", block.code)
        for part in parts:
            try:
                tomllib.loads(part)
            except tomllib.TOMLDecodeError as exc:
                raise BlockFailed(f"{block.where()}: not valid TOML: {exc}") from None
        return f"parses ({len(parts)} file(s))"

    # ------------------------------------------------------------------- runs

    def _env_for(self, block: Block) -> dict[str, str]:
        env = dict(self.env)
        for dialect in block.directives.get("emulator", []):
            if dialect not in self.emulators:
                raise BlockFailed(f"{block.where()}: no {dialect!r} emulator (have {sorted(self.emulators)})")
            env["SOURCES__GAINSIGHT_PX__BASE_URL"] = self.emulators[dialect]
            env["DESTINATION__DUCKDB__CREDENTIALS"] = str(self.workdir / f"gainsight-{dialect}.duckdb")
            env["DLT_DATA_DIR"] = str(self.workdir / f".dlt-data-{dialect}")
        return env

    def _script(self, block: Block) -> list[str]:
        lines = []
        for command in shell_commands(block.code):
            if _PLACEHOLDER.match(command):
                continue  # the reader's own value: the runner's stands in for it
            if command.startswith(SETUP_PREFIX):
                command = command[len(SETUP_PREFIX):]
            if re.search(r"\bpip\s+install\b|-m\s+venv\b", command):
                raise BlockFailed(f"{block.where()}: {command!r} would change the venv running the tests; "
                                  "use the quick start's setup prefix or mark the block not-run")
            lines.append(command)
        return lines

    def _bash(self, block: Block) -> str:
        env = self._env_for(block)
        commands = self._script(block)
        given = block.directives.get("given", [])
        background = None
        if "background" in block.directives:
            if not commands:
                raise BlockFailed(f"{block.where()}: background directive on a block without commands")
            background, commands = commands[0], commands[1:]
        server = None
        try:
            if background is not None:
                server, exports = self._start(block, background, block.directives["background"][0], env)
                env.update(exports)
            script = "\n".join(["set -euo pipefail",
                                'trap \'echo "README command failed: $BASH_COMMAND" >&2\' ERR',
                                *given, *commands])
            self._exec(block, ["bash", "-c", script], env)
        finally:
            if server is not None:
                self._stop(block, server)
        return f"ran {len(commands) + (background is not None)} command(s)"

    def _python(self, block: Block) -> str:
        # Beside the copy, not in it: the block is the reader's code, not a file of the project.
        script = self.workdir.parent / f"readme_block_{block.line}.py"
        script.write_text(block.code, encoding="utf-8")
        self._exec(block, [str(self.workdir / ".venv" / "bin" / "python"), str(script)], self._env_for(block))
        return "ran"

    def _sql(self, block: Block) -> str:
        import duckdb

        statements = [s.strip() for s in block.code.split(";") if s.strip() and not
                      all(line.strip().startswith("--") or not line.strip() for line in s.splitlines())]
        con = duckdb.connect(str(self.workdir / "gainsight.duckdb"), read_only=True)
        try:
            for statement in statements:
                try:
                    con.execute(statement).fetchall()
                except duckdb.Error as exc:
                    raise BlockFailed(f"{block.where()}: {exc}\n{statement}") from None
        finally:
            con.close()
        return f"ran {len(statements)} statement(s)"

    def _exec(self, block: Block, argv: list[str], env: dict[str, str]) -> None:
        result = subprocess.run(argv, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=600)
        self.log.append(f"--- {block.where()}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise BlockFailed(f"{block.where()} failed (exit {result.returncode}):\n"
                              f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def _start(self, block: Block, command: str, ready: str,
               env: dict[str, str]) -> tuple[subprocess.Popen, dict[str, str]]:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.workdir, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            proc.wait()
            raise BlockFailed(f"{block.where()}: {command!r} ended before printing {ready!r}:\n{''.join(seen)}")
        exports: dict[str, str] = {}
        for line in seen:
            if line.strip().startswith("export "):
                for item in shlex.split(line.strip()[len("export "):]):
                    name, _, value = item.partition("=")
                    exports[name] = value
        return proc, exports

    def _stop(self, block: Block, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise BlockFailed(f"{block.where()}: the background command did not stop on Ctrl-C") from None
        if proc.returncode != 0:
            raise BlockFailed(f"{block.where()}: the background command exited {proc.returncode} on Ctrl-C:\n{out}")


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def make_copy(target: Path) -> Path:
    """The repository's tracked files (as they are in the working tree) in `target`, `.venv` linked."""
    import shutil

    for name in tracked_files():
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the working tree
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def base_env(workdir: Path) -> dict[str, str]:
    """The caller's environment minus any PX/dlt configuration and minus the venv on PATH."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__", "DESTINATION__", "GAINSIGHT_PX_", "VIRTUAL_ENV", "PYTEST_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env["DLT_DATA_DIR"] = str(workdir / ".dlt-data")
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    return env

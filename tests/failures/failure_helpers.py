"""Assertions shared by the failure tests."""

from __future__ import annotations

import subprocess


def error_lines(stderr: str) -> list[str]:
    """The message a failure ends with: from its first `error:`/`interrupted:` line to the end."""
    lines = stderr.rstrip("\n").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("error:", "interrupted:")):
            return lines[i:]
    return []


def assert_one_message(result: subprocess.CompletedProcess | tuple[int, str], code: int, first: str) -> None:
    """Exit `code`, no traceback, a message of one or two lines whose first line starts with `first`."""
    returncode, stderr = (result.returncode, result.stderr) if not isinstance(result, tuple) else result
    assert "Traceback" not in stderr, stderr
    message = error_lines(stderr)
    assert message, stderr
    assert message[0].startswith(first), stderr
    assert len(message) <= 2, stderr
    assert returncode == code, (returncode, stderr)

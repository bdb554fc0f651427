"""The README's example outputs are what the commands print today.

An example is a code block line ``$ <command>`` followed by the lines it
prints (up to the next ``$`` line or the end of the block). ``python -m …``
commands run in a subprocess from the project root; ``curl [-s] 'http://127.0.0.1:5000/…'``
is answered by the app's test client. Whitespace is normalised; nothing
else is. Lines of a block that do not start with ``$`` before the first
example are usage lines and are not run.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _code_blocks(text):
    """Yield the code blocks (indented by 4 spaces, or fenced) as lists of lines."""
    block, fenced = [], False
    for line in text.splitlines() + [""]:
        if line.startswith("```"):
            if fenced:
                yield block
                block = []
            fenced = not fenced
            continue
        if fenced:
            block.append(line)
        elif line.startswith("    ") or (block and not line.strip()):
            block.append(line[4:])
        elif block:
            yield block
            block = []


def readme_examples():
    """[(command, expected output)] from every ``$ `` line of the README."""
    examples = []
    for block in _code_blocks(README.read_text(encoding="utf-8")):
        current = None
        for line in block:
            if line.startswith("$ "):
                current = [line[2:].strip(), []]
                examples.append(current)
            elif current is not None:
                current[1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in examples if "".join(out).strip()]


def normalise(text):
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _run(command, client):
    argv = shlex.split(command)
    if argv[0] == "curl":
        url = next(a for a in argv[1:] if a.startswith("http"))
        parts = urlsplit(url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        return response.get_data(as_text=True)
    if argv[:2] == ["python", "-m"]:
        done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
        return done.stdout + done.stderr
    raise AssertionError(f"README example {command!r}: only 'python -m …' and 'curl http://127.0.0.1:5000/…' run")


EXAMPLES = readme_examples()


def test_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("command,expected", EXAMPLES, ids=[re.sub(r"\W+", "_", c)[:60] for c, _ in EXAMPLES])
def test_readme_example_output(command, expected, client):
    assert normalise(_run(command, client)) == normalise(expected)

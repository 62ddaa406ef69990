"""Every statement of how long an assignment runs ("runs in about a minute", "takes 10 to 30
seconds") is one that bench/notebook_times.py measures: a promise added to a notebook without an
entry there fails here. (The benchmark itself executes every notebook: a script, not a test.)"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"(?:\d+|one|two|three|four|five|ten|twenty|thirty|a few)"
# "a minute" and "under a second" count; "a second call" does not.
DURATION = re.compile(
    rf"\b(?:{NUMBER}(?:\s+to\s+{NUMBER})?\s+(?:seconds?|minutes?)|a\s+minute|under\s+a\s+second)\b",
    re.I,
)


def _bench():
    spec = importlib.util.spec_from_file_location(
        "notebook_times", ROOT / "bench/notebook_times.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def promises(text: str) -> list[str]:
    """The lines of a source notebook (whitespace joined) that state a duration."""
    return [" ".join(line.split()) for line in text.splitlines() if DURATION.search(line)]


def test_every_promise_is_measured():
    claims = _bench().CLAIMS
    missing = []
    for path in sorted((ROOT / "solutions").glob("*/*.md")):
        name = path.parent.name
        phrases = [c.phrase for c in claims if c.assignment == name]
        for line in promises(path.read_text()):
            if not any(p in line for p in phrases):
                missing.append(f"{name}: {line}")
    assert not missing, "add to bench/notebook_times.py CLAIMS:\n" + "\n".join(missing)


def test_every_claim_is_in_its_notebook():
    for c in _bench().CLAIMS:
        text = " ".join(
            (ROOT / "solutions" / c.assignment / f"{c.assignment}.md").read_text().split()
        )
        assert c.phrase in text, f"{c.assignment}: {c.phrase!r} is no longer in the notebook"


def test_the_scan_finds_a_planted_promise():
    text = "Some text.\nThis cell takes 10 to 30 seconds on a laptop.\nThe second moment.\n"
    assert promises(text) == ["This cell takes 10 to 30 seconds on a laptop."]
    assert promises("runs in about a minute") and not promises("the second moment")

"""The README's table of contents lists every section (## heading), in order, with the
anchor GitHub gives it. After adding a section: `python tests/unit/test_readme.py` rewrites
the table."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
TOC_START, TOC_END = "<!-- toc -->", "<!-- /toc -->"


def github_anchor(heading: str) -> str:
    """GitHub's slug: lower case, punctuation dropped (not - or _), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(text: str) -> list[str]:
    body = re.sub(r"```.*?```", "", text, flags=re.S)  # no headings inside code blocks
    return re.findall(r"^## (.+)$", body, re.M)


def table(text: str) -> str:
    return "".join(f"- [{h}](#{github_anchor(h)})\n" for h in sections(text))


def test_table_of_contents_matches_the_sections() -> None:
    text = README.read_text()
    toc = text.split(TOC_START + "\n", 1)[1].split(TOC_END, 1)[0]
    assert toc == table(text), "README contents out of date: python tests/unit/test_readme.py"


def test_slug_rules() -> None:
    assert github_anchor("Set up (two commands)") == "set-up-two-commands"
    assert github_anchor("Use with LiteLLM") == "use-with-litellm"


if __name__ == "__main__":
    text = README.read_text()
    head, rest = text.split(TOC_START + "\n", 1)
    README.write_text(head + TOC_START + "\n" + table(text) + TOC_END + rest.split(TOC_END, 1)[1])

"""Every relative link in the README, the changelog and docs/ leads somewhere: the file exists and,
for a ``#anchor``, the target has a heading with that GitHub-style slug. And every docs page is
linked from the README, so a newcomer can find it."""

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fence = [], None
    for line in text.splitlines():
        marker = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if marker and (fence is None or marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence)):
            fence = marker.group(1) if fence is None else None
            continue
        if fence is None:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor, the second of a name as NAME-1 and so on, as GitHub numbers them."""
    seen: Counter = Counter()
    found = set()
    for line in prose(text):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def links(text: str) -> list[str]:
    """The relative link targets of a Markdown text (no scheme: not http, mailto, ...)."""
    return [target for line in prose(text) for target in LINK.findall(re.sub(r"`[^`]*`", "", line))
            if not SCHEME.match(target)]  # fmt: skip


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` that leads nowhere, with the reason."""
    broken = []
    for target in links(page.read_text()):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert page.exists()
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links((ROOT / "README.md").read_text())}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Try it (Python 3.10+; `make demo`)\n\n## Limits\n\n## Limits\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md#try-it-python-310-make-demo) [ok](docs/a.md#limits-1) [web](https://example.com/x)\n"
        "[gone](docs/b.md) [no anchor](docs/a.md#limit) `[in code](docs/c.md)`\n"
        "```\n[in a fence](docs/d.md)\n```\n"
    )
    assert broken_links(page) == [
        f"docs/b.md: no file {tmp_path / 'docs' / 'b.md'}",
        "docs/a.md#limit: no heading with anchor #limit in a.md",
    ]


def test_headings_in_code_blocks_are_no_anchors():
    assert anchors("# Real\n```sh\n# a comment\n```\n") == {"real"}

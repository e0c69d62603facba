"""The player app's initial JavaScript, as built: at most 200 KB gzipped, and none of the back office in it.

Measured on the build the README's commands make (web/dist): the entry script of index.html and every module it
preloads or imports statically, each gzipped at level 9 as a server or CDN would. A size, not a time: the same
build gives the same figure on any machine."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
BUDGET = 200 * 1024

pytestmark = pytest.mark.e2e


def initial_chunks() -> set[Path]:
    """The JavaScript a first visit loads: index.html's module scripts and preloads, and their static imports."""
    html = (DIST / "index.html").read_text("utf-8")
    queue = [DIST / p.lstrip("/") for p in re.findall(r'(?:src|href)="(/assets/[^"]+\.js)"', html)]
    seen: set[Path] = set()
    while queue:
        chunk = queue.pop()
        if chunk in seen:
            continue
        seen.add(chunk)
        code = chunk.read_text("utf-8")
        # static imports only (`import ... from "./x.js"`, `import "./x.js"`); `import("./x.js")` loads later
        for name in re.findall(r'(?:^|[;\s}])import\s*(?:[\w${}*,\s]+from\s*)?["\']\./([\w.-]+\.js)["\']', code):
            queue.append(chunk.parent / name)
    return seen


def test_the_initial_javascript_is_within_its_budget_and_holds_no_back_office() -> None:
    if not (DIST / "index.html").is_file():
        pytest.fail("the web app is not built: run `make web`")
    chunks = initial_chunks()
    assert chunks, "index.html loads no script"
    sizes = {c.name: len(gzip.compress(c.read_bytes(), compresslevel=9)) for c in chunks}
    total = sum(sizes.values())
    print(f"\ninitial JavaScript: {total / 1024:.1f} KB gzipped in {len(sizes)} chunks: {sizes}")
    assert total <= BUDGET, f"{total / 1024:.1f} KB gzipped > {BUDGET // 1024} KB: {sizes}"
    admin = [c.name for c in chunks if c.name.startswith("AdminApp")]
    assert not admin, f"the back office is in the player's initial load: {admin}"
    assert list(DIST.glob("assets/AdminApp-*.js")), "the back office is not a chunk of its own"

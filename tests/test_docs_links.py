"""Every relative link and image in README.md, docs/ and benchmarks/ resolves: the file or folder exists, and a
`#fragment` names a heading of the page it points to (GitHub's anchors: lower case, punctuation dropped, spaces
to hyphens). Links to the web are not fetched. A file of the repository named in a code span (`training/plan.py`,
`csrc/cpu/`) exists too, so the pages follow files that move."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
TOP = ("audiodata", "benchmarks", "csrc", "deployment", "docs", "dyconv", "experiments", "models", "tests",
       "training")
# `package/.../name.ext` or `package/folder/` in a code span; `{a,b}` alternatives, `<placeholders>` and `*` skipped
REPO_PATH = re.compile(r"`((?:%s)/[\w./-]*)`" % "|".join(TOP))


def anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def links(page: Path):
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if not re.match(r"[a-z]+:", target):
            yield target


def test_anchor_follows_github():
    assert anchor("## The GPU check: one command for the first GPU".lstrip("# ")) == \
        "the-gpu-check-one-command-for-the-first-gpu"
    assert anchor("`torch.func` and forward-mode AD") == "torchfunc-and-forward-mode-ad"


def test_the_pages_have_links():
    assert sum(len(list(links(p))) for p in PAGES) > 30 and (ROOT / "docs" / "index.md") in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading with that anchor in {dest.name})")
    assert not broken, f"expected every link of {page.relative_to(ROOT)} to resolve, got: {'; '.join(broken)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_in_a_code_span_exists(page):
    missing = sorted({p for p in REPO_PATH.findall(page.read_text()) if not (ROOT / p).exists()})
    assert not missing, f"expected the files {page.relative_to(ROOT)} names to exist, got missing: {', '.join(missing)}"


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 200, f"expected README.md to stay a front page of at most 200 lines, got {lines}"

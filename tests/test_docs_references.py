"""Every reference to a file of the repository, in the product's code and in its Markdown docs, names a file that
exists, and every relative Markdown link resolves (its ``#anchor`` too).

Scanned: the Python files of ``runtime/``, ``platform_constructs/``, ``platform_contract/``, ``stacks/``, ``bench/``,
``scripts/`` and ``app.py`` (docstrings, comments and code alike) and the scripts' shell files; the Markdown files
``README.md``, ``docs/*.md`` and every ``README.md`` under the product's folders. A reference is

* a path from the repository root (``tests/runtime/jobs/test_processor.py``, ``runtime/jobs/``, ``docs/guarantees.md``);
* a file name ending ``.py``, ``.md``, ``.sql`` or ``.sh`` (``batch.py``, ``jobs/batch.py``, ``DESIGN.md``),
  resolved against the referring file's folder, the repository root, or the end of any path in the product;
* a dotted module path (``runtime.jobs.batch``, ``tests.mutations.catalog.MUTATIONS``): its modules must exist;
* a section by its heading (``README, "Exactly once"``, ``docs/operations.md "Metrics and progress"``): the
  page must have a heading that starts so;
* in Markdown, a relative link ``[text](target#anchor)``: the target must exist and the anchor be one of its headings.

URLs, glob patterns (``*``, ``{a,b}``, ``<batch>``, ``…``) and S3 keys (``raw-json-data/...``, which start with no
folder of the repository) are not references. A failure lists every broken reference as ``file:line``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The repository's top-level folders a path reference may start with (``platform_contract`` once it exists).
ROOTS = ("tests", "runtime", "docs", "platform_constructs", "platform_contract", "stacks", "bench", "scripts", ".ci")
PACKAGES = ("runtime", "platform_constructs", "platform_contract", "stacks", "bench", "tests")
SKIPPED_FOLDERS = {"__pycache__", "node_modules", ".venv", "cdk.out", "glue_wheels", ".mldp", ".git"}

# A path from the root: not glued to a URL, a longer path or a word before it (``s3://b/runtime/x``, ``my_tests/``).
ROOT_PATH = re.compile(r"(?<![\w./:@\\-])(?:" + "|".join(re.escape(r) for r in ROOTS) + r")/[\w./-]*")
# A file name with one of the extensions a reader would open; the name may hold folders (``jobs/batch.py``).
FILE_NAME = re.compile(r"(?<![\w./:@\\<>*-])[\w][\w./-]*\.(?:py|md|sh)\b(?![\w(-])")
DOTTED = re.compile(r"(?<![\w./-])(?:" + "|".join(PACKAGES) + r")(?:\.\w+)+")
MD_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
# A section named by its heading: ``README, "Exactly once"``, ``docs/operations.md "Metrics and progress"``.
SECTION = re.compile(r"\b(README(?:\.md)?|docs/[\w-]+\.md)\)?,?:?\s+(?:section\s+)?[\"“]([^\"”]+)[\"”]")
GLOB = re.compile(r"[*?{}<>…]|\.\.\.|NNNN|YYYY")
# Names that stand for any file (``x.py``, ``x_props.py``, a hook's ``file.py``), not for one of the repository.
PLACEHOLDER = re.compile(r"(?:x|file|module|name)(?:_\w+)?\.\w+")
# Libraries' own files (``awsglue/utils.py``): not the repository's.
EXTERNAL = ("awsglue", "pyspark", "py4j", "aws_cdk", "boto3", "botocore")
# A dotted name ending like a file (``runtime.zip``, ``requirements-runtime.txt``) is a file name, not a module.
FILE_SUFFIXES = ("zip", "txt", "json", "yaml", "yml", "whl", "toml", "cfg", "parquet", "gz", "py", "md", "sh")


def product_files() -> list[Path]:
    """The Python, shell and SQL files of the product scanned for references."""
    files = [ROOT / "app.py"]
    for folder in ("runtime", "platform_constructs", "platform_contract", "stacks", "bench", "scripts"):
        for path in sorted((ROOT / folder).rglob("*")) if (ROOT / folder).is_dir() else []:
            if path.suffix in (".py", ".sh", ".sql") and not SKIPPED_FOLDERS & set(path.relative_to(ROOT).parts):
                files.append(path)
    return files


def markdown_files() -> list[Path]:
    """The README, the docs pages and the READMEs of the product's folders (``BENCHMARKS.md`` is generated)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("runtime", "platform_constructs", "platform_contract", "stacks", "bench", "scripts"):
        if (ROOT / folder).is_dir():
            files += [p for p in sorted((ROOT / folder).rglob("README.md")) if not SKIPPED_FOLDERS & set(p.parts)]
    return files


def _all_paths() -> list[str]:
    """Every file and folder of the product, as a path from the root, to resolve a name by its end."""
    paths = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if not SKIPPED_FOLDERS & set(relative.parts):
            paths.append(relative.as_posix())
    return paths


ALL_PATHS = _all_paths()


def _is_url_context(line: str, start: int) -> bool:
    """Whether the match at ``start`` sits inside a URL (``https://…/runtime/x.py``)."""
    word_start = max(line.rfind(" ", 0, start), line.rfind("(", 0, start), line.rfind("`", 0, start))
    return "://" in line[word_start + 1 : start]


def _resolve_root_path(reference: str) -> bool:
    return (ROOT / reference.rstrip("/")).exists()


def _resolve_file_name(reference: str, referrer: Path) -> bool:
    first = reference.split("/")[0]
    if PLACEHOLDER.fullmatch(reference) or first in EXTERNAL or ("/" in reference and "-" in first):
        return True  # a placeholder, a library's file, or an S3 key (``raw-json-data/…``: no folder has a hyphen)
    if (referrer.parent / reference).exists() or (ROOT / reference).exists():
        return True
    return any(path == reference or path.endswith("/" + reference) for path in ALL_PATHS)


def _resolve_dotted(reference: str) -> bool:
    """Whether the modules of a dotted path exist: each part is a package or module until a module is reached
    (what follows is an attribute); a part that is neither must be a name the package's ``__init__`` holds."""
    parts = reference.split(".")
    folder = ROOT / parts[0]
    if not folder.is_dir():
        return False
    if parts[-1] in FILE_SUFFIXES:
        return True
    for part in parts[1:]:
        if (folder / part / "__init__.py").is_file():
            folder = folder / part
            continue
        if (folder / f"{part}.py").is_file() or part.startswith("__"):
            return True  # a module (what follows is an attribute), or a module's own attribute (``__path__``)
        if (folder / part).is_dir():
            folder = folder / part  # a namespace package (a folder of SQL migrations holds no module)
            continue
        init = folder / "__init__.py"
        return init.is_file() and re.search(rf"\b{re.escape(part)}\b", init.read_text()) is not None
    return True


def _clean(reference: str) -> str:
    return reference.rstrip(".,;:")


def path_references(path: Path) -> list[tuple[int, str]]:
    """The broken path, file-name and dotted-module references of ``path``, as ``(line, reference)``."""
    broken = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        seen: set[str] = set()
        for match in ROOT_PATH.finditer(line):
            reference = _clean(match.group())
            seen.add(reference)
            if GLOB.search(line[match.start() : match.end() + 1]) or _is_url_context(line, match.start()):
                continue
            if not _resolve_root_path(reference):
                broken.append((number, reference))
        for match in FILE_NAME.finditer(line):
            reference = _clean(match.group())
            if reference in seen or _is_url_context(line, match.start()) or GLOB.search(reference):
                continue
            if not _resolve_file_name(reference, path):
                broken.append((number, reference))
        for match in SECTION.finditer(line):
            document = ROOT / (match.group(1) if match.group(1).endswith(".md") else "README.md")
            if document.exists() and not any(a.startswith(github_anchor(match.group(2))) for a in anchors(document)):
                broken.append((number, f"{match.group(1)} \"{match.group(2)}\""))
        for match in DOTTED.finditer(line):
            reference = match.group()
            # ``tests.mutations`` in prose ends a sentence: a dotted path needs two parts, and no file suffix
            if reference.endswith((".py", ".md")) or _is_url_context(line, match.start()):
                continue
            if not _resolve_dotted(reference):
                broken.append((number, reference))
    return broken


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces turned to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lstrip("#").strip())
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    """Every heading anchor of a Markdown file (``-1``, ``-2``… for repeated headings, as GitHub numbers them)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_fence = False
    for line in markdown.read_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(r"#{1,6} ", line):
            anchor = github_anchor(line)
            found.add(anchor if anchor not in counts else f"{anchor}-{counts[anchor]}")
            counts[anchor] = counts.get(anchor, 0) + 1
    return found


def link_references(markdown: Path) -> list[tuple[int, str]]:
    """The relative links of a Markdown file whose target or anchor does not exist, as ``(line, link)``."""
    broken = []
    for number, line in enumerate(markdown.read_text().splitlines(), start=1):
        for match in MD_LINK.finditer(line):
            link = match.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:, s3:
                continue
            target, _, anchor = link.partition("#")
            file = (markdown.parent / target).resolve() if target else markdown
            if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
                broken.append((number, link))
    return broken


def _report(broken: list[str]) -> str:
    return f"{len(broken)} broken reference(s):\n" + "\n".join(broken)


def test_every_file_the_product_and_its_docs_name_exists() -> None:
    """Docstrings, comments and docs name only files and modules that exist (``file:line: reference``)."""
    broken = []
    for path in product_files() + markdown_files():
        for number, reference in path_references(path):
            broken.append(f"{path.relative_to(ROOT)}:{number}: {reference}")
    assert broken == [], _report(broken)


def test_every_relative_markdown_link_resolves() -> None:
    """Every relative link of the README and the docs reaches an existing file, and an existing heading."""
    broken = []
    for markdown in markdown_files():
        for number, link in link_references(markdown):
            broken.append(f"{markdown.relative_to(ROOT)}:{number}: {link}")
    assert broken == [], _report(broken)


def test_the_scanner_tells_references_from_urls_globs_and_s3_keys(tmp_path: Path) -> None:
    """The scanner itself: a missing file is caught; URLs, globs, S3 keys and existing files are not flagged."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""See tests/runtime/test_states.py and DESIGN.md, runtime.no_such_module, README "No such section".\n'
        "Fine: runtime/jobs/batch.py, `batch.py`, runtime.jobs.batch.BatchRun, docs/guarantees.md,\n"
        "https://github.com/x/y/blob/main/runtime/gone.py, tests/runtime/test_*.py, raw-json-data/2024/x.py,\n"
        's3://bucket/runtime/gone.py, runtime/jobs/{a,b}.py, batch-<id>-NNNN.snappy.parquet."""\n'
    )
    assert [r for _, r in path_references(sample)] == [
        "tests/runtime/test_states.py",
        "DESIGN.md",
        'README "No such section"',
        "runtime.no_such_module",
    ]
    page = tmp_path / "page.md"
    page.write_text("# A title\n[ok](#a-title) [gone](#nope) [file](missing.md) [web](https://example.com/x.md)\n")
    assert [r for _, r in link_references(page)] == ["#nope", "missing.md"]

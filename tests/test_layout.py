"""The layout of `harness/` stays what docs/layout.md says: no loose modules, no shared names.

The allowed loose modules, the module names repeated on purpose and the class names still
shared are read from docs/layout.md itself, so the document and the rule cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness"
LAYOUT_DOC = ROOT / "docs" / "layout.md"


def documented(heading: str) -> set[str]:
    """The `name` of each "- `name`: ..." bullet of the section `### heading` of docs/layout.md."""
    text = LAYOUT_DOC.read_text(encoding="utf-8")
    found = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#|\Z)", text, flags=re.M | re.S)
    assert found is not None, f"docs/layout.md has no section '### {heading}'"
    return set(re.findall(r"^- `([^`]+)`", found.group(1), flags=re.M))


def modules() -> list[Path]:
    return sorted(HARNESS.rglob("*.py"))


def top_level_classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def repeated(names_by_file: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: files for name, files in names_by_file.items() if len(files) > 1}


def module_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        if path.stem != "__init__":
            found[f"{path.stem}.py"].append(str(path.relative_to(HARNESS)))
    return found


def class_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        for name in top_level_classes(path):
            if not name.startswith("_"):  # private classes are their module's business
                found[name].append(str(path.relative_to(HARNESS)))
    return found


def test_only_the_documented_modules_are_loose_at_the_top_of_harness() -> None:
    loose = {path.name for path in HARNESS.glob("*.py")} - {"__init__.py"}
    allowed = documented("Loose modules")
    assert loose <= allowed, (
        f"harness/ has loose modules {sorted(loose - allowed)}: put each in the package of its "
        "pipeline step (docs/layout.md), or document why it belongs to none"
    )


def test_every_package_says_what_it_is() -> None:
    missing = [
        str(init.relative_to(ROOT))
        for init in sorted(HARNESS.rglob("__init__.py"))
        if not ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    ]
    assert not missing, f"packages without a docstring saying what they hold: {missing}"


def test_a_module_name_repeats_only_for_a_documented_role() -> None:
    allowed = documented("Module names repeated on purpose")
    shared = repeated(module_names())
    unexplained = {name: files for name, files in shared.items() if name not in allowed}
    assert not unexplained, (
        f"modules sharing a name: {unexplained}; rename one, or, if the name means the same "
        "role in each package, add it to the list in docs/layout.md"
    )


def test_no_new_class_name_is_defined_twice() -> None:
    pending = documented("Class names still shared")
    shared = repeated(class_names())
    new = {name: files for name, files in shared.items() if name not in pending}
    assert not new, (
        f"top-level classes sharing a name: {new}; give each a name of its own "
        "(two classes with one name are two things a reader must tell apart by import)"
    )


@pytest.mark.parametrize(
    ("heading", "names"),
    [
        ("Module names repeated on purpose", module_names),
        ("Class names still shared", class_names),
    ],
)
def test_the_documented_lists_hold_no_stale_entry(
    heading: str, names: Callable[[], dict[str, list[str]]]
) -> None:
    """An entry that no longer repeats is removed, so the lists only ever shrink to the truth."""
    stale = documented(heading) - set(repeated(names()))
    assert not stale, f"docs/layout.md lists {sorted(stale)} as repeated, but each occurs once"

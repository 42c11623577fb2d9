"""The harness's options stay what they were when the suites began declaring their own.

`fixtures/options/harness.json` was written from the central list in harness/cases/options.py
before the suites' options moved into their packages (issue 20 item 2). Every option of the
`harness` group, and its ini twin, must keep its name, dest, action, type, default, metavar
and help text, wherever it is declared; `pytest --help` then lists the same options.
Regenerate the file only for a deliberate change of an option:
`python tests/cases/test_options_declared.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).parents[1] / "fixtures" / "options" / "harness.json"


def _type_name(value: object) -> str | None:
    return None if value is None else getattr(value, "__name__", repr(value))


def option_set(config: pytest.Config) -> dict[str, Any]:
    """The harness group's options and the `harness_*` ini keys, as plain JSON values.

    Reads pytest's parser (`Config._parser`): the public API has no list of options.
    """
    parser = config._parser
    group = parser.getgroup("harness")
    options = {}
    for opt in group.options:
        attrs = opt.attrs()
        options["/".join(opt.names())] = {
            "dest": attrs.get("dest"),
            "action": attrs.get("action"),
            "type": _type_name(attrs.get("type")),
            "default": attrs.get("default"),
            "metavar": attrs.get("metavar"),
            "help": attrs.get("help"),
        }
    ini = {
        name: {"help": help_text, "type": kind, "default": default}
        for name, (help_text, kind, default) in parser._inidict.items()
        if name.startswith("harness_")
    }
    return {"description": group.description, "options": options, "ini": ini}


def test_every_harness_option_is_unchanged(pytester: pytest.Pytester) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    found = json.loads(json.dumps(option_set(pytester.parseconfig())))
    assert sorted(found["options"]) == sorted(expected["options"])
    assert found == expected


def test_help_lists_every_harness_option(pytester: pytest.Pytester) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    result = pytester.runpytest("--help")
    names = [name for key in expected["options"] for name in key.split("/")]
    names += [f"{ini} " for ini in expected["ini"]]
    text = result.stdout.str()
    assert [n for n in names if n not in text] == []


if __name__ == "__main__":  # regenerate the snapshot from the options declared now
    from _pytest.config import get_config

    config = get_config()
    config.pluginmanager.load_setuptools_entrypoints("pytest11")
    SNAPSHOT.write_text(json.dumps(option_set(config), indent=1, sort_keys=True) + "\n")
    sys.exit(0)

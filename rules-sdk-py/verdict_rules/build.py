"""verdict-rule-py: builds a Verdict rule written in Python into a WebAssembly component that
`verdict rules check` and the upload accept.

    verdict-rule-py build app.py [-o rule.wasm]   componentize with CPython (componentize-py,
                                                  WASI stubbed), record the toolchain
    verdict-rule-py bindings                      print where the native bindings are

`--keep-wasi` leaves WASI imports in place: Verdict refuses such a rule (it exists to show
that refusal).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from . import bindings
from .producers import add_producers

DECISIONS = {"Closure": "closure", "Transition": "transition", "Ticketing": "ticketing"}
SDK_VERSION = "0.1.0"


def decisions_of(source: Path) -> list[str]:
    """The decisions a rule module makes: its top-level classes named after them."""
    tree = ast.parse(source.read_text(), str(source))
    return [DECISIONS[n.name] for n in tree.body if isinstance(n, ast.ClassDef) and n.name in DECISIONS]


METHODS = {"closure": ("Closure", "decide"), "transition": ("Transition", "choose"), "ticketing": ("Ticketing", "plan")}


def wrapper(module: str, decisions: list[str]) -> str:
    """The component's entry: the rule's classes, wrapped so an exception is logged before it
    becomes a trap (the host then reports its message with the `trap` error)."""
    out = [
        "import gc",
        "import traceback",
        "from verdict_rules import log",
        f"import {module} as _rule",
        "",
        # Every decision runs in a fresh instance of the snapshot taken after these imports:
        # what they built is never garbage, so the collector is told never to walk it again.
        "gc.collect()",
        "gc.freeze()",
        "",
        "def _report(e):",
        "    log.error('uncaught exception: ' + ''.join(traceback.format_exception_only(e)).strip())",
        "",
    ]
    for d in decisions:
        cls, method = METHODS[d]
        out += [
            f"class {cls}(_rule.{cls}):",
            f"    def {method}(self, input):",
            "        try:",
            f"            return super().{method}(input)",
            "        except BaseException as e:",
            "            _report(e)",
            "            raise",
            "",
        ]
    return "\n".join(out)


def build(app: Path, out: Path, stub_wasi: bool) -> None:
    if not app.exists():
        sys.exit(f"verdict-rule-py: no such file: {app}")
    decisions = decisions_of(app)
    if not decisions:
        sys.exit(f"verdict-rule-py: {app} defines none of the classes Closure, Transition, Ticketing")
    sdk_root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="verdict-rule-build-") as tmp:
        wit = Path(tmp) / "rules.wit"
        world = "\nworld verdict-build {\n    import host;\n" + "".join(
            f"    export {d};\n" for d in decisions
        ) + "}\n"
        wit.write_text(bindings.wit_path().read_text() + world)
        raw = Path(tmp) / "rule.wasm"
        (Path(tmp) / "verdict_entry.py").write_text(wrapper(app.stem, decisions))
        command = [
            bindings.componentize_py(),
            "-d", str(wit),
            "-w", "verdict-build",
            "componentize", "verdict_entry",
            "-p", tmp,
            "-p", str(app.resolve().parent),
            "-p", str(sdk_root),
            "-o", str(raw),
        ]
        if stub_wasi:
            command.append("--stub-wasi")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"verdict-rule-py: componentize-py failed:\n{done.stdout}{done.stderr}")
        marked = add_producers(
            raw.read_bytes(),
            {
                "language": [("Python", "")],
                "processed-by": [("componentize-py", version("componentize-py"))],
                "sdk": [("verdict-rules-sdk-py", SDK_VERSION)],
            },
        )
    out.write_bytes(marked)
    print(f"{out}: {len(marked)} bytes, decisions: {', '.join(decisions)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="verdict-rule-py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a rule module into a wasm component")
    b.add_argument("app", type=Path)
    b.add_argument("-o", "--output", type=Path, default=Path("rule.wasm"))
    b.add_argument("--keep-wasi", action="store_true")
    sub.add_parser("bindings", help="generate the native bindings and print where they are")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.app, args.output, not args.keep_wasi)
    else:
        print(bindings.ensure())


if __name__ == "__main__":
    main()

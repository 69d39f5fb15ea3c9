"""``paperpack rules``: list every validation rule with why it matters."""

from __future__ import annotations

import argparse
import json
import sys

from ..checks import all_rules
from ..errors import EXIT_OK

DESCRIPTION = """\
List every rule `paperpack validate` applies: its stable id, name, default
severity and why it matters. Rule ids never change; use them to look a finding
up in docs/rules.md.

examples:
  paperpack rules
  paperpack rules --family NB
  paperpack rules --format json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rules",
        help="list the validation rules",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--family", help="only rules whose id starts with this prefix (ENV, NB, DEP, DOI, META, MAN)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rules = [r for r in all_rules() if not args.family or r.id.startswith(args.family.upper())]
    if args.format == "json":
        doc = [{"id": r.id, "name": r.name, "severity": r.severity.value, "why": r.why} for r in rules]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    for r in rules:
        sys.stdout.write(f"{r.id}  {r.severity.value:<7}  {r.name}\n         {r.why}\n")
    return EXIT_OK

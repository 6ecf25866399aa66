"""The bodies of `learncity import` and `learncity export` (app/cli.py only wires them).

    learncity import SOURCE --partner NAME [--name DOCUMENT]
    learncity export --format ics|jsonld [--topic T] [--partner P] [--output FILE]

Exit codes: 0 done, 1 the source was refused (nothing written) or cannot be read, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

from learncity.content.loader import load_knowledge
from learncity.content.models import Topic
from learncity.settings import Settings
from partners.errors import FetchError, InvalidSource, PartnerError
from partners.export import export_ics, export_jsonld, select
from partners.registry import check_partner_name
from partners.service import PartnerService


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the `import` and `export` subcommands to the `learncity` parser."""
    importer = commands.add_parser(
        "import", help="import a partner's .ics, .jsonld, .csv or .yaml (file or URL)"
    )
    importer.add_argument("source", help="a file or an http(s) URL")
    importer.add_argument("--partner", required=True, help="the partner (see partners.yaml)")
    importer.add_argument("--name", help="store as this document name (default: the file name)")
    exporter = commands.add_parser("export", help="write the offer as iCalendar or JSON-LD")
    exporter.add_argument("--format", required=True, choices=("ics", "jsonld"))
    exporter.add_argument("--topic", choices=[t.value for t in Topic])
    exporter.add_argument("--partner", help="only this partner's listings")
    exporter.add_argument("--output", metavar="FILE", help="write here (default: stdout)")


def make_service(settings: Settings) -> PartnerService:
    """Build the partners service from the settings."""
    return PartnerService(
        knowledge_dir=settings.knowledge_dir,
        zone=settings.zone,
        max_bytes=int(settings.partner_max_mb * 1024 * 1024),
        timeout=settings.partner_fetch_timeout,
    )


def run(args: argparse.Namespace, out: IO[str], settings: Settings) -> int:
    """Run `import` or `export`."""
    if args.command == "import":
        return cmd_import(args, out, settings)
    return cmd_export(args, out, settings)


def cmd_import(args: argparse.Namespace, out: IO[str], settings: Settings) -> int:
    """Import one source for a partner; print what changed, notes, or every problem."""
    service = make_service(settings)
    try:
        report = asyncio.run(service.import_source(args.source, args.partner, name=args.name))
    except InvalidSource as error:
        for problem in error.errors:
            print(str(problem), file=out)
        print(
            f"refused: {len(error.errors)} problem(s) in {args.source}; nothing was changed",
            file=sys.stderr,
        )
        return 1
    except (FetchError, PartnerError) as error:
        print(f"learncity import: {error}", file=sys.stderr)
        return 1 if isinstance(error, FetchError) else 2
    preview, written = report.preview, report.written
    for note in preview.parsed.notes:
        print(f"note: {note}", file=out)
    events, programmes = preview.counts
    print(
        f"imported {events} events and {programmes} programmes for partner {preview.partner} "
        f"as '{preview.document}': {len(written.added)} added, {len(written.updated)} updated, "
        f"{len(written.removed)} removed, {len(written.unchanged)} unchanged",
        file=out,
    )
    return 0


def cmd_export(args: argparse.Namespace, out: IO[str], settings: Settings) -> int:
    """Write the offer (or a topic's, or a partner's) as .ics or JSON-LD."""
    if args.partner:
        try:
            check_partner_name(args.partner)
        except PartnerError as error:
            print(f"learncity export: {error}", file=sys.stderr)
            return 2
    kb = load_knowledge(settings.knowledge_dir)
    for problem in kb.errors:
        print(f"warning: {problem}", file=sys.stderr)
    programmes, events = select(kb, topic=args.topic, partner=args.partner)
    if args.format == "ics":
        data = export_ics(events, zone=settings.zone).decode("utf-8")
        summary = f"{len(events)} events"
    else:
        data = export_jsonld(programmes, events, zone=settings.zone)
        summary = f"{len(events)} events and {len(programmes)} programmes"
    if not args.output:
        out.write(data)
        return 0
    target = Path(args.output)
    handle, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(data)
    os.replace(temporary, target)
    print(f"exported {summary} to {target}", file=sys.stderr)
    return 0

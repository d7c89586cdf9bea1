"""`riskgraph ingest bulk`: SEC's nightly bulk archives into the warehouse, beside the per-company API path.

    riskgraph ingest bulk --sec-companyfacts companyfacts.zip --sec-submissions submissions.zip
    riskgraph ingest bulk --sec-companyfacts live --sec-submissions live --all-ciks   # download SEC's archives
    riskgraph ingest bulk --dart-corpcode live          # OpenDART's listed companies into the universe

A path is read in place; a URL (or ``live`` for SEC's own address) is downloaded to ``--download-dir`` first,
resumably, with the SEC User-Agent (RISKGRAPH_SEC_USER_AGENT). Exit code 0 when everything was read, 1 when an
archive is damaged (the message names the archive and the member; the batch being written is rolled back).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from risk_assets.commands import open_warehouse


def _archive(
    value: str | None, live_url: str, download_dir: Path, user_agent: str | None, out
) -> Path | None:
    from risk_assets.defs.sources.bulk import resolve_archive

    if value is None:
        return None
    url = live_url if value == "live" else value
    return resolve_archive(
        url, download_dir, user_agent=user_agent, progress=lambda line: print(line, file=out)
    )


def _bulk(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    from risk_assets.commands.data import _objects
    from risk_assets.defs.sources.bulk import (
        DART_CORPCODE_URL,
        SEC_COMPANYFACTS_URL,
        SEC_SUBMISSIONS_URL,
        BulkArchiveError,
        ingest_dart_corpcode,
        ingest_sec_archives,
        resolve_archive,
    )
    from risk_assets.settings import Settings

    if not (args.sec_companyfacts or args.sec_submissions or args.dart_corpcode):
        print(
            "give --sec-companyfacts, --sec-submissions and/or --dart-corpcode (a path, a URL or 'live')",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env()
    download_dir = Path(args.download_dir or Path(settings.home) / "bulk")
    user_agent = args.user_agent or settings.sec_user_agent or None
    progress = lambda line: print(line, file=out, flush=True)  # noqa: E731
    warehouse = open_warehouse()
    try:
        companyfacts = _archive(args.sec_companyfacts, SEC_COMPANYFACTS_URL, download_dir, user_agent, out)
        submissions = _archive(args.sec_submissions, SEC_SUBMISSIONS_URL, download_dir, user_agent, out)
        if companyfacts or submissions:
            ingest_sec_archives(
                warehouse,
                _objects(),
                companyfacts=companyfacts,
                submissions=submissions,
                all_ciks=args.all_ciks,
                batch_size=args.batch_size,
                progress=progress,
            )
        if args.dart_corpcode:
            key = settings.opendart_api_key
            url = args.dart_corpcode
            if url == "live":
                if not key:
                    raise ValueError("--dart-corpcode live needs OPENDART_API_KEY")
                url = f"{DART_CORPCODE_URL}?crtfc_key={key}"
            path = resolve_archive(
                url,
                download_dir,
                user_agent=None,
                progress=progress,
                name="corpCode.zip",
                sec=False,
                secrets=(key,) if key else (),
            )
            ingest_dart_corpcode(
                warehouse, _objects(), path, include_unlisted=args.dart_unlisted, progress=progress
            )
    except (BulkArchiveError, ValueError) as error:
        print(f"bulk ingestion stopped: {error}", file=sys.stderr)
        return 1
    finally:
        warehouse.dispose()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    ingest = subparsers.add_parser("ingest", help="ingest source documents in bulk (SEC nightly archives)")
    kinds = ingest.add_subparsers(dest="kind", required=True)
    bulk = kinds.add_parser(
        "bulk",
        help="SEC companyfacts.zip / submissions.zip: every member stored once by its "
        "hash, parsed into statements; a re-run skips what is stored",
    )
    bulk.add_argument(
        "--sec-companyfacts",
        metavar="PATH_OR_URL",
        help="companyfacts.zip: a path, a URL, or 'live' for SEC's nightly archive",
    )
    bulk.add_argument(
        "--sec-submissions",
        metavar="PATH_OR_URL",
        help="submissions.zip: a path, a URL, or 'live' for SEC's nightly archive",
    )
    bulk.add_argument(
        "--all-ciks",
        action="store_true",
        help="every CIK of the companyfacts archive (else only the warehouse's SEC filers); new ones "
        "are added to the companies table as SEC filers",
    )
    bulk.add_argument(
        "--dart-corpcode",
        metavar="PATH_OR_URL",
        help="OpenDART corpCode ZIP (CORPCODE.xml): a path, a URL, or 'live' (needs OPENDART_API_KEY); "
        "listed companies not yet known are added to the companies table as DART filers",
    )
    bulk.add_argument(
        "--dart-unlisted",
        action="store_true",
        help="with --dart-corpcode: every entry, listed or not (about 100,000)",
    )
    bulk.add_argument(
        "--batch-size", type=int, default=50, help="companies per warehouse transaction (default 50)"
    )
    bulk.add_argument("--download-dir", help="where downloaded archives go (default $RISKGRAPH_HOME/bulk)")
    bulk.add_argument(
        "--user-agent", help="SEC User-Agent 'Name contact@example.com' (default RISKGRAPH_SEC_USER_AGENT)"
    )
    bulk.set_defaults(handler=_bulk)

"""`riskgraph keys create|revoke|list`: API keys for the gateway (stored hashed; the key is printed once).

Also the local demo key that `riskgraph serve --demo-key` (and so `make run`) prints: kept in
$RISKGRAPH_HOME/demo-api-key (mode 0600) and reused across runs while it is still valid.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from risk_assets.commands import open_warehouse

DEMO_KEY_NAME = "local-demo"
DEMO_KEY_SCOPES = ("read", "score")
DEMO_KEY_FILE = "demo-api-key"


def cli_actor() -> str:
    """Who the audit log names for a command-line action."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def ensure_demo_key(warehouse, home: Path) -> str:
    """The local demo's read+score key: the stored one while it still verifies with those scopes, else a new one
    (revoking the old 'local-demo' key). Idempotent across `make run`s."""
    from risk_assets.storage.api_keys import create_key, revoke_key, verify_key

    path = home / DEMO_KEY_FILE
    if path.exists():
        stored = path.read_text().strip()
        principal = verify_key(warehouse, stored)
        if (
            principal is not None
            and principal.name == DEMO_KEY_NAME
            and principal.scopes == set(DEMO_KEY_SCOPES)
        ):
            return stored
    revoke_key(warehouse, DEMO_KEY_NAME, actor=cli_actor())
    key = create_key(warehouse, DEMO_KEY_NAME, DEMO_KEY_SCOPES, actor=cli_actor())
    _write_private(path, key.secret + "\n")
    return key.secret


def _create(name: str, scopes: str) -> int:
    from risk_assets.storage.api_keys import ApiKeyError, create_key

    try:
        key = create_key(open_warehouse(), name, scopes, actor=cli_actor())
    except ApiKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"created key {key.name!r} with scopes {','.join(key.scopes)}. It is shown only once:")
    print(key.secret)
    print("send it as:  Authorization: Bearer <key>")
    return 0


def _revoke(name: str) -> int:
    from risk_assets.storage.api_keys import revoke_key

    if revoke_key(open_warehouse(), name, actor=cli_actor()):
        print(f"revoked key {name!r}")
        return 0
    print(f"error: no active key named {name!r}", file=sys.stderr)
    return 1


def _list() -> int:
    from risk_assets.storage.api_keys import list_keys

    rows = list_keys(open_warehouse())
    if not rows:
        print("no keys")
        return 0
    print(f"{'name':<24} {'prefix':<17} {'scopes':<18} {'created (UTC)':<20} revoked (UTC)")
    for row in rows:
        revoked = row["revoked_at"].isoformat(sep=" ") if row["revoked_at"] else "-"
        print(
            f"{row['name']:<24} {row['key_prefix']:<17} {row['scopes']:<18} "
            f"{row['created_at'].isoformat(sep=' '):<20} {revoked}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="API keys of the gateway: create (printed once), revoke, list")
    actions = keys.add_subparsers(dest="keys_action", required=True)

    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("name")
    create.add_argument(
        "--scopes", default="read", help="comma-separated: read, score, admin (default: read)"
    )
    create.set_defaults(handler=lambda args: _create(args.name, args.scopes))

    revoke = actions.add_parser("revoke", help="revoke a key by name (refused at once)")
    revoke.add_argument("name")
    revoke.set_defaults(handler=lambda args: _revoke(args.name))

    listing = actions.add_parser("list", help="list keys (name, prefix, scopes, dates; never the key)")
    listing.set_defaults(handler=lambda args: _list())

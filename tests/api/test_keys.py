"""API keys: stored hashed, shown once, scoped, revocable, audited; the CLI; the local demo key."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import stat
from contextlib import redirect_stdout

import pytest
import sqlalchemy as sa

from risk_assets.cli import main as cli
from risk_assets.commands.keys import DEMO_KEY_FILE, ensure_demo_key
from risk_assets.storage.api_keys import (
    ApiKeyError,
    audit_rows,
    create_key,
    list_keys,
    parse_scopes,
    revoke_key,
    verify_key,
)
from risk_assets.storage.schema import api_keys
from risk_assets.storage.warehouse import Warehouse


@pytest.fixture
def store(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    warehouse.create_schema()
    yield warehouse
    warehouse.dispose()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_a_key_is_stored_as_a_hash_and_verifies(store):
    before = now().replace(microsecond=0)
    key = create_key(store, "loan-system", "score,read", actor="cli:ops")
    assert key.secret.startswith(key.prefix + "_") and len(key.secret) == 16 + 1 + 43
    assert key.scopes == ("read", "score")  # canonical order
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys)).mappings().one()
    assert row["key_hash"] == hashlib.sha256(key.secret.encode()).hexdigest()
    assert key.secret not in str(dict(row)) and row["key_prefix"] == key.prefix
    principal = verify_key(store, key.secret)
    assert principal.name == "loan-system" and principal.scopes == {"read", "score"}
    assert principal.allows("score") and not principal.allows("admin")
    listed = list_keys(store)
    assert [k["name"] for k in listed] == ["loan-system"] and "key_hash" not in listed[0]
    (created,) = audit_rows(store, action="create_api_key")
    assert (created["actor"], created["target"], created["detail"]) == (
        "cli:ops",
        "loan-system",
        "scopes=read,score",
    )
    assert before <= created["at"] <= now()


def test_wrong_unknown_and_malformed_keys_do_not_verify(store):
    key = create_key(store, "a", "read", actor="t")
    for presented in (
        None,
        "",
        key.secret + "x",
        key.secret[:-1] + ("A" if key.secret[-1] != "A" else "B"),
        key.prefix,
        "rgk_ffffffffffff_" + key.secret[17:],
        key.secret.upper(),
    ):
        assert verify_key(store, presented) is None, presented


def test_revocation_and_reuse_of_a_name(store):
    first = create_key(store, "partner", "read", actor="cli:ops")
    with pytest.raises(ApiKeyError, match="active key named 'partner'"):
        create_key(store, "partner", "read", actor="cli:ops")
    before = now().replace(microsecond=0)
    assert revoke_key(store, "partner", actor="cli:ops") is True
    assert verify_key(store, first.secret) is None
    assert revoke_key(store, "partner", actor="cli:ops") is False  # nothing active left to revoke
    assert revoke_key(store, "nobody", actor="cli:ops") is False
    (revoked,) = audit_rows(store, action="revoke_api_key")
    assert (revoked["actor"], revoked["target"]) == ("cli:ops", "partner") and before <= revoked[
        "at"
    ] <= now()
    second = create_key(store, "partner", "read,admin", actor="cli:ops")
    assert verify_key(store, first.secret) is None
    assert verify_key(store, second.secret).scopes == {"read", "admin"}


@pytest.mark.parametrize(
    ("scopes", "message"), [("", "at least one"), ("read,write", "unknown scope"), ("root", "unknown scope")]
)
def test_bad_scopes_are_refused(scopes, message):
    with pytest.raises(ApiKeyError, match=message):
        parse_scopes(scopes)


@pytest.mark.parametrize("name", ["", "has space", "-leading-dash", "x" * 81, "semi;colon"])
def test_bad_names_are_refused(store, name):
    with pytest.raises(ApiKeyError, match="key name"):
        create_key(store, name, "read", actor="t")


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(list(argv))
    return code, out.getvalue()


def test_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RISKGRAPH_HOME", str(tmp_path))
    monkeypatch.delenv("RISKGRAPH_WAREHOUSE_URL", raising=False)
    code, out = run_cli("keys", "create", "analyst", "--scopes", "read,score")
    assert code == 0
    secret = next(line for line in out.splitlines() if line.startswith("rgk_"))
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    assert verify_key(warehouse, secret).scopes == {"read", "score"}
    code, listing = run_cli("keys", "list")
    assert code == 0 and "analyst" in listing and secret not in listing and secret[:16] in listing
    assert run_cli("keys", "create", "analyst")[0] == 2
    assert "revoke it first" in capsys.readouterr().err
    assert run_cli("keys", "create", "bad", "--scopes", "write")[0] == 2
    code, out = run_cli("keys", "revoke", "analyst")
    assert code == 0 and verify_key(warehouse, secret) is None
    assert run_cli("keys", "revoke", "analyst")[0] == 1
    actions = [(r["action"], r["target"]) for r in reversed(audit_rows(warehouse))]
    assert actions == [("create_api_key", "analyst"), ("revoke_api_key", "analyst")]
    assert all(r["actor"].startswith("cli:") for r in audit_rows(warehouse))
    warehouse.dispose()


def test_the_demo_key_is_kept_private_and_reused(tmp_path, store):
    first = ensure_demo_key(store, tmp_path)
    path = tmp_path / DEMO_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == first
    assert verify_key(store, first).scopes == {"read", "score"}
    assert ensure_demo_key(store, tmp_path) == first  # idempotent across runs
    assert len(audit_rows(store, action="create_api_key")) == 1
    revoke_key(store, "local-demo", actor="test")
    second = ensure_demo_key(store, tmp_path)  # a revoked demo key is replaced
    assert second != first and verify_key(store, second) is not None
    path.write_text("rgk_000000000000_" + "A" * 43)  # a stale file: a new key, the old one revoked
    third = ensure_demo_key(store, tmp_path)
    assert third not in (first, second) and verify_key(store, second) is None
    assert [k["name"] for k in list_keys(store)] == ["local-demo"]


def test_serve_takes_the_demo_key_flag():
    from risk_assets.cli import build_parser

    assert build_parser().parse_args(["serve", "--demo-key"]).demo_key is True
    assert build_parser().parse_args(["serve"]).demo_key is False

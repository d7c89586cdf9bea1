"""cloudflared/config.yml, checked by structure (no cloudflared binary exists here).

Facts the rules rest on (docs/traps.md): config.yml ingress applies to a locally-managed tunnel
(`tunnel:` + `credentials-file:`); `originRequest.access` is honoured only inside an ingress rule, a
top-level one is silently ignored. The rules are also run on broken copies, which they must reject.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tests.deploy import REPO, compose_config

CONFIG = REPO / "cloudflared" / "config.yml"
CATCH_ALL = "http_status:404"
NEVER_ROUTED_HOSTS = {"mysql", "minio", "minio-init"}
NEVER_ROUTED_PORTS = {3306, 9000, 9001}
UI_ORIGINS = {"http://dagster-webserver:3000", "http://mlflow:5000"}
API_ORIGIN = "http://api:8000"
# A commented YAML line of the documented variant: "# - key" or "#   key" (prose comments are "# Word").
_COMMENTED_YAML = re.compile(r"^(\s*)# (-\s.*|\s{2}.*)$")


def load(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text() if text is None else text)


def with_uis_enabled() -> str:
    """The documented variant: the commented UI rules turned on, exactly as the README says to."""
    return "\n".join(_COMMENTED_YAML.sub(r"\1\2", line) for line in CONFIG.read_text().splitlines())


def _origin(rule: dict[str, Any]) -> tuple[str, int | None]:
    parsed = urlparse(str(rule.get("service", "")))
    return parsed.hostname or "", parsed.port


def ingress_problems(config: dict[str, Any]) -> list[str]:
    """What would make this tunnel unsafe or not locally managed."""
    problems = []
    if not config.get("tunnel") or not config.get("credentials-file"):
        problems.append("not a locally-managed tunnel (tunnel: + credentials-file:)")
    if "access" in (config.get("originRequest") or {}):
        problems.append("top-level originRequest.access is ignored by cloudflared; put it in the rule")
    rules = config.get("ingress") or []
    if not rules or rules[-1] != {"service": CATCH_ALL}:
        problems.append(f"the last ingress rule must be the bare catch-all service: {CATCH_ALL}")
    for position, rule in enumerate(rules):
        host, port = _origin(rule)
        if host in NEVER_ROUTED_HOSTS or port in NEVER_ROUTED_PORTS:
            problems.append(f"rule {position} routes to {rule['service']}: MySQL and MinIO are never exposed")
        if rule.get("service") == CATCH_ALL and position != len(rules) - 1:
            problems.append(f"rule {position} is a catch-all before the end: later rules are unreachable")
        if position != len(rules) - 1 and not rule.get("hostname"):
            problems.append(f"rule {position} has no hostname: it would catch everything")
        if rule.get("service") in UI_ORIGINS:
            access = (rule.get("originRequest") or {}).get("access") or {}
            if access.get("required") is not True or not access.get("teamName") or not access.get("audTag"):
                problems.append(f"rule {position} exposes a UI without originRequest.access (required)")
    return problems


def test_the_config_is_safe_as_committed():
    assert ingress_problems(load()) == []


def test_the_ui_variant_is_safe_too():
    assert ingress_problems(load(with_uis_enabled())) == []


def test_only_the_api_is_exposed_by_default():
    rules = load()["ingress"]
    assert [rule["service"] for rule in rules] == [API_ORIGIN, CATCH_ALL]


def test_the_ui_variant_adds_exactly_the_two_uis_behind_access():
    rules = load(with_uis_enabled())["ingress"]
    assert [rule["service"] for rule in rules] == [API_ORIGIN, *sorted(UI_ORIGINS), CATCH_ALL]
    for rule in rules[1:3]:
        assert rule["hostname"]
        assert rule["originRequest"]["access"]["required"] is True


def test_the_tunnel_matches_the_compose_service():
    compose = compose_config()  # interpolated with .env.example, as a deployment sees it
    service = compose["services"]["cloudflared"]
    command = service["command"]
    config_path = command[command.index("--config") + 1]
    targets = [volume.split(":")[1] for volume in service["volumes"]]
    assert f"{REPO / 'cloudflared' / 'config.yml'}:{config_path}:ro" in service["volumes"]
    assert config_path in targets
    assert load()["credentials-file"] in targets
    assert "--token" not in command, "a --token tunnel ignores config.yml ingress"
    # the API container runs its image's CMD (compose sets no command): the port it listens on is there
    dockerfile = REPO / compose["services"]["api"]["build"]["dockerfile"]
    api_command = next(
        json.loads(line.removeprefix("CMD "))
        for line in dockerfile.read_text().splitlines()
        if line.startswith("CMD ")
    )
    assert api_command[:3] == ["python", "-m", "api.server"]
    assert f"http://api:{api_command[api_command.index('--port') + 1]}" == API_ORIGIN


def _without_catch_all(config):
    config["ingress"].pop()


def _catch_all_first(config):
    config["ingress"].insert(0, config["ingress"].pop())


def _route(service: str, **extra):
    def mutate(config):
        config["ingress"].insert(0, {"hostname": "x.example.com", "service": service, **extra})

    return mutate


def _token_tunnel(config):
    del config["tunnel"]
    del config["credentials-file"]


def _access_at_top_level(config):
    access = {"required": True, "teamName": "t", "audTag": ["a"]}
    config["originRequest"] = {"access": access}
    config["ingress"].insert(0, {"hostname": "d.example.com", "service": "http://dagster-webserver:3000"})


def _hostless_rule(config):
    config["ingress"].insert(0, {"service": API_ORIGIN})


BREAKS = {
    "no catch-all": _without_catch_all,
    "catch-all first": _catch_all_first,
    "MinIO API": _route("http://minio:9000"),
    "MinIO console": _route("http://minio:9001"),
    "MySQL over tcp": _route("tcp://mysql:3306"),
    "Dagster UI without Access": _route("http://dagster-webserver:3000"),
    "MLflow UI with Access not required": _route(
        "http://mlflow:5000", originRequest={"access": {"required": False, "teamName": "t", "audTag": ["a"]}}
    ),
    "token tunnel": _token_tunnel,
    "Access only at the top level": _access_at_top_level,
    "rule without hostname": _hostless_rule,
}


@pytest.mark.parametrize("mutation", BREAKS.values(), ids=BREAKS.keys())
def test_the_rules_reject_a_broken_copy(mutation):
    config = copy.deepcopy(load())
    mutation(config)
    assert ingress_problems(config) != []

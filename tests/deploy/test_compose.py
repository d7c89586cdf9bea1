"""docker-compose.yaml, .env.example, the Dockerfiles, .dockerignore and db/init, without a Docker engine.

The compose file is checked three independent ways, and each check is also run on deliberately broken
copies, which must fail it (a check that passes everything proves nothing):

1. Debian's docker-compose 1.29 (`docker-compose config -q`, no engine needed). CI installs it with
   `apt-get install -y --no-install-recommends docker-compose`; without the binary the test skips on a
   developer's machine and fails in CI.
2. The compose-spec JSON schema with jsonschema. tests/deploy/compose-spec.json is the schema Debian's
   docker-compose 1.29.2-3 ships as compose/config/compose_spec.json (Apache-2.0, copied byte for byte),
   so it needs neither the binary nor the network.
3. The project's own rules: who may publish ports, depends_on conditions, healthchecks, pinned images,
   documented variables, secrets without defaults, build inputs that exist, settings that reach the
   containers.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import REPO, scratch_database, unavailable

COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

# Services allowed to publish a port on all interfaces (the issue: "Only the API and cloudflared").
PUBLIC_SERVICES = {"api", "cloudflared"}
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}
# Services that must answer on 127.0.0.1 only (the UIs).
LOOPBACK_UI_SERVICES = {"dagster-webserver", "mlflow"}
# Services with no healthcheck, and why: nothing waits on it, and its distroless image has no shell.
NO_HEALTHCHECK = {"cloudflared"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME; $$ is a literal $.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


# --- loading and interpolation ---------------------------------------------------------------------------


class MissingVariable(ValueError):
    pass


def load_raw(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def env_example() -> dict[str, str]:
    """KEY=VALUE lines of .env.example (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example line without '=': {line!r}"
            values[key.strip()] = value.strip()
    return values


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def variable_uses(node: Any) -> Iterator[re.Match[str]]:
    """Every ${...} use in the file's values (comments are not values; $$ is not a use)."""
    for text in strings_in(node):
        for match in _VARIABLE.finditer(text):
            if not match["escaped"]:
                yield match


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution, applied to values as docker-compose does before validating."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg, value = match["op"], match["arg"], env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if (op == ":?" and not value) or (op == "?" and value is None):
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    if isinstance(node, str):
        return _VARIABLE.sub(substitute, node)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    return node


def resolved(raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compose file as a deployment from .env.example sees it."""
    return interpolate(raw if raw is not None else load_raw(), env_example())


def services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc["services"]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


# --- the project's rules: each returns the problems it finds --------------------------------------------


def host_ip_of(port: Any) -> str:
    """The host address a port entry binds ("" = all interfaces)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    text = str(port).split("/")[0]
    if text.startswith("["):
        return text[: text.index("]") + 1]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else ""


def port_problems(raw: dict[str, Any]) -> list[str]:
    doc = resolved(raw)
    problems = []
    for name, service in services(doc).items():
        if service.get("network_mode") == "host":
            problems.append(f"{name}: network_mode host bypasses every port rule")
        ports = service.get("ports") or []
        wide = [port for port in ports if host_ip_of(port) not in LOOPBACK]
        if wide and name not in PUBLIC_SERVICES:
            problems.append(f"{name}: publishes {wide} beyond 127.0.0.1")
        if name in LOOPBACK_UI_SERVICES and not ports:
            problems.append(f"{name}: its UI should be published on 127.0.0.1")
    return problems


def depends_on_problems(raw: dict[str, Any]) -> list[str]:
    problems = []
    all_services = services(resolved(raw))
    for name, service in all_services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            condition = (spec or {}).get("condition", "service_started")
            if target not in all_services:
                problems.append(f"{name}: depends on undefined service {target}")
                continue
            other = all_services[target]
            if condition == "service_healthy" and not other.get("healthcheck"):
                problems.append(f"{name}: waits for {target} to be healthy, but it has no healthcheck")
            if condition == "service_completed_successfully" and other.get("restart", "no") != "no":
                problems.append(f"{name}: waits for {target} to complete, but {target} restarts")
            if other.get("profiles") and not service.get("profiles"):
                problems.append(f"{name}: depends on {target}, which only exists under a profile")
    return problems


def healthcheck_problems(raw: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in services(resolved(raw)).items():
        long_running = service.get("restart", "no") != "no"
        if long_running and name not in NO_HEALTHCHECK and not service.get("healthcheck"):
            problems.append(f"{name}: long-running service without a healthcheck")
    return problems


def image_problems(raw: dict[str, Any]) -> list[str]:
    """Every image carries an explicit tag that is not `latest`, so a deployment is reproducible."""
    problems = []
    for name, service in services(resolved(raw)).items():
        image = service.get("image")
        if not image:
            problems.append(f"{name}: no image name (a built image gets an unversioned one)")
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image!r} is not pinned to a version")
    return problems


def build_problems(raw: dict[str, Any], root: Path = REPO) -> list[str]:
    """Build contexts, Dockerfiles and bind-mount sources written in the file exist in the repository.

    A source that comes from a variable (the tunnel credentials) is the operator's file, not the repo's.
    """
    problems = []
    for name, service in services(raw).items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (root / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if not context.is_dir():
            problems.append(f"{name}: build context {context} does not exist")
        elif not dockerfile.is_file():
            problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
    for name, service in services(raw).items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")) and "$" not in source and not (root / source).exists():
                problems.append(f"{name}: bind-mount source {source} does not exist")
    return problems


def variable_problems(raw: dict[str, Any]) -> list[str]:
    """Each ${VAR} is documented in .env.example, each documented one is used, secrets have no default."""
    documented = env_example()
    uses = list(variable_uses(raw))
    used = {match["braced"] or match["named"] for match in uses}
    problems = [f"${{{name}}} is not documented in .env.example" for name in sorted(used - set(documented))]
    problems += [
        f".env.example documents {name}, which compose never uses" for name in documented.keys() - used
    ]
    for match in uses:
        name = match["braced"] or match["named"]
        if SECRET_NAME.search(name) and match["op"] != ":?":
            problems.append(f"secret {name} must be required (${{{name}:?...}}), not {match[0]}")
    return problems


# --- Dockerfiles and .dockerignore ------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        piece = stripped.removesuffix("\\").strip()
        pending = f"{pending} {piece}" if pending else piece
        if not stripped.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def dockerfile_env(path: Path) -> set[str]:
    names: set[str] = set()
    for keyword, arguments in dockerfile_instructions(path):
        if keyword == "ENV":
            names |= {token.split("=")[0] for token in arguments.split() if "=" in token}
    return names


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a directory's exclusion covers what is inside it."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/").removeprefix("./"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- tools -------------------------------------------------------------------------------------------


def documented_names_scrubbed_env() -> dict[str, str]:
    """The caller's environment minus every variable compose interpolates (the shell would win over files)."""
    names = set(env_example()) | {m["braced"] or m["named"] for m in variable_uses(load_raw())}
    return {key: value for key, value in os.environ.items() if key not in names}


@pytest.fixture(scope="module")
def compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable(
            "docker-compose is not installed (apt-get install -y --no-install-recommends docker-compose)"
        )
    return binary


def compose_config(binary: str, compose_file: Path, env_file: Path | None) -> subprocess.CompletedProcess:
    command = [binary]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    command += ["-f", str(compose_file), "config", "-q"]
    return subprocess.run(
        command,
        cwd=compose_file.parent,
        env=documented_names_scrubbed_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def schema_validator():
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - the project venv has it
        unavailable("jsonschema is not importable in this interpreter")
    schema = json.loads(SCHEMA_FILE.read_text())
    # Its $schema URI is a misspelt draft 2019-09 one; name the draft instead of letting jsonschema guess.
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


# --- broken copies -----------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


@dataclass(frozen=True)
class Break:
    mutation: Mutation
    binary_says: str  # a fragment of docker-compose's error message
    schema_path: tuple[str | int, ...]  # where the schema must report the error


# Invalid under the compose specification: both the binary and the schema must reject them, for this reason.
SPEC_BREAKS: dict[str, Break] = {
    "unknown service key": Break(_set("services.api.restartt", "always"), "'restartt'", ("services", "api")),
    "unknown top-level key": Break(_set("service", {"api": {"image": "x:1"}}), "'service'", ()),
    "ports is not a list": Break(
        _set("services.api.ports", "8000:8000"), "services.api.ports", ("services", "api", "ports")
    ),
    "healthcheck retries is not a number": Break(
        _set("services.mysql.healthcheck.retries", "many"),
        "healthcheck.retries",
        ("services", "mysql", "healthcheck", "retries"),
    ),
    "depends_on condition misspelt": Break(
        _set("services.api.depends_on.mysql.condition", "service_healty"),
        "service_healty",
        ("services", "api", "depends_on"),
    ),
}


def write_copy(raw: dict[str, Any], directory: Path) -> Path:
    """The compose file and .env.example in `directory`, with the Dockerfile tree the builds name."""
    (directory / "docker").mkdir(exist_ok=True)
    for dockerfile in (REPO / "docker").glob("*.Dockerfile"):
        shutil.copy(dockerfile, directory / "docker" / dockerfile.name)
    shutil.copy(ENV_EXAMPLE, directory / ".env.example")
    target = directory / "docker-compose.yaml"
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


# --- 1. docker-compose (the binary) ---------------------------------------------------------------------


def test_docker_compose_config_accepts_the_file(compose_binary):
    result = compose_config(compose_binary, COMPOSE_FILE, ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_accepts_an_unmodified_copy(compose_binary, tmp_path):
    """The control for the broken copies below: moving the file is not what makes them fail."""
    result = compose_config(compose_binary, write_copy(load_raw(), tmp_path), tmp_path / ".env.example")
    assert result.returncode == 0, result.stderr


BINARY_BREAKS = {
    **SPEC_BREAKS,
    # Valid under the schema, refused by compose itself.
    "depends on an undefined service": Break(
        _set("services.api.depends_on.no-such-service", {"condition": "service_started"}),
        "no-such-service",
        (),
    ),
}


@pytest.mark.parametrize("broken", BINARY_BREAKS.values(), ids=BINARY_BREAKS.keys())
def test_docker_compose_config_rejects_a_broken_copy(compose_binary, tmp_path, broken):
    raw = load_raw()
    broken.mutation(raw)
    result = compose_config(compose_binary, write_copy(raw, tmp_path), tmp_path / ".env.example")
    assert result.returncode != 0, f"accepted a broken file:\n{result.stdout}{result.stderr}"
    assert broken.binary_says in result.stderr


def test_docker_compose_refuses_to_start_without_the_secrets(compose_binary, tmp_path):
    """No .env and nothing in the environment: the required secrets stop compose instead of defaulting."""
    compose_file = write_copy(load_raw(), tmp_path)
    (tmp_path / ".env.example").unlink()
    result = compose_config(compose_binary, compose_file, None)
    assert result.returncode != 0
    assert "in .env" in result.stderr, result.stderr


# --- 2. the compose-spec JSON schema ----------------------------------------------------------------------


def test_schema_accepts_the_file(schema_validator):
    errors = [error.message for error in schema_validator.iter_errors(resolved())]
    assert errors == []


@pytest.mark.parametrize("broken", SPEC_BREAKS.values(), ids=SPEC_BREAKS.keys())
def test_schema_rejects_a_broken_copy(schema_validator, broken):
    raw = load_raw()
    broken.mutation(raw)
    paths = [tuple(error.absolute_path) for error in schema_validator.iter_errors(resolved(raw))]
    assert paths == [broken.schema_path]


# --- 3. the project's rules ---------------------------------------------------------------------------


RULES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "ports": port_problems,
    "depends_on": depends_on_problems,
    "healthchecks": healthcheck_problems,
    "images": image_problems,
    "builds": build_problems,
}


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
def test_the_file_keeps_the_rule(rule):
    assert rule(load_raw()) == []


RULE_BREAKS: list[tuple[str, Mutation]] = [
    ("ports", _set("services.dagster-webserver.ports", ["3000:3000"])),
    ("ports", _set("services.mlflow.ports", [{"target": 5000, "published": 5000}])),
    ("ports", _set("services.mysql.ports", ["3306:3306"])),
    ("ports", _set("services.minio.ports", ["0.0.0.0:9001:9001"])),
    ("ports", _set("services.dagster-webserver.ports", [])),
    ("ports", _set("services.dagster-daemon.network_mode", "host")),
    ("depends_on", _set("services.api.depends_on.no-such-service", {"condition": "service_started"})),
    ("depends_on", _set("services.api.depends_on.minio-init", {"condition": "service_healthy"})),
    ("depends_on", _set("services.api.depends_on.mysql", {"condition": "service_completed_successfully"})),
    ("depends_on", _set("services.api.depends_on.cloudflared", {"condition": "service_started"})),
    ("healthchecks", _set("services.dagster-daemon.healthcheck", None)),
    ("images", _set("services.minio.image", "minio/minio")),
    ("images", _set("services.mysql.image", "mysql:latest")),
    ("builds", _set("services.api.build.dockerfile", "docker/no-such.Dockerfile")),
    ("builds", _set("services.mlflow.build.context", "no-such-directory")),
    ("builds", _set("services.mysql.volumes", ["./no/such/dir:/docker-entrypoint-initdb.d:ro"])),
]


@pytest.mark.parametrize(
    ("rule_name", "mutation"), RULE_BREAKS, ids=[f"{name}-{n}" for n, (name, _) in enumerate(RULE_BREAKS)]
)
def test_the_rule_catches_a_broken_copy(rule_name, mutation):
    raw = load_raw()
    mutation(raw)
    assert RULES[rule_name](raw) != []


def test_every_variable_is_documented_and_secrets_are_required():
    assert variable_problems(load_raw()) == []


@pytest.mark.parametrize(
    "mutation",
    [
        _set("services.api.environment.EXTRA", "${UNDOCUMENTED_VARIABLE:-x}"),
        _set("services.mysql.environment.MYSQL_ROOT_PASSWORD", "${MYSQL_ROOT_PASSWORD:-root}"),
        _set("services.minio.environment.MINIO_ROOT_PASSWORD", "$MINIO_ROOT_PASSWORD"),
    ],
    ids=["undocumented", "secret with a default", "secret without :?"],
)
def test_the_variable_rule_catches_a_broken_copy(mutation):
    raw = load_raw()
    mutation(raw)
    assert variable_problems(raw) != []


def test_env_example_commits_no_secret():
    for name, value in env_example().items():
        if SECRET_NAME.search(name):
            assert value == "change-me", f"{name} in .env.example must be the change-me placeholder"
        if name.endswith("_API_KEY"):
            assert value == "", f"{name} in .env.example must be empty"


def test_the_interpolation_helper_follows_compose():
    env = {"SET": "v", "EMPTY": ""}
    # $$ is a literal $; :- replaces unset or empty, - only unset; :? fails on unset or empty.
    assert interpolate("$$X ${SET} $SET ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "$X v v d  d"
    with pytest.raises(MissingVariable):
        interpolate("${EMPTY:?needed}", env)
    assert interpolate("${EMPTY?needed}", env) == ""


def test_every_service_is_on_risknet_and_data_lives_in_volumes():
    doc = resolved()
    assert set(doc["networks"]) == {"risknet"}
    for name, service in services(doc).items():
        assert service.get("networks") == ["risknet"], name
    assert {"mysql-data", "minio-data"} <= set(doc["volumes"])
    assert "mysql-data:/var/lib/mysql" in services(doc)["mysql"]["volumes"]
    assert "minio-data:/data" in services(doc)["minio"]["volumes"]
    assert "./db/init:/docker-entrypoint-initdb.d:ro" in services(doc)["mysql"]["volumes"]


def test_only_cloudflared_sits_under_the_tunnel_profile():
    profiles = {name: s.get("profiles") for name, s in services(resolved()).items() if s.get("profiles")}
    assert profiles == {"cloudflared": ["tunnel"]}


def test_services_run_what_the_issue_names():
    svc = services(resolved())
    assert svc["mysql"]["image"].startswith("mysql:8")
    grpc = "dagster api grpc -m risk_assets.definitions -h 0.0.0.0 -p 4000"  # the issue's command, verbatim
    assert svc["dagster-code"]["command"] == grpc.split()
    assert svc["dagster-webserver"]["command"][0] == "dagster-webserver"
    assert svc["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert "command" not in svc["api"]  # the image's `python -m api.server`: timeouts and a concurrency limit
    mlflow = svc["mlflow"]
    command = mlflow["command"]
    destination = command[command.index("--artifacts-destination") + 1]
    assert destination == "s3://riskgraph/mlartifacts"
    env = environment_of(mlflow)
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("mysql+pymysql://")
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@mysql:3306/mlflow")
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    init = svc["minio-init"]
    assert init["image"].startswith("minio/mc:")
    assert init["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert 'mc mb --ignore-existing "local/$RISKGRAPH_S3_BUCKET"' in init["command"][0]


def test_the_warehouse_user_and_databases_match_the_init_script():
    svc = services(resolved())
    mysql_env = environment_of(svc["mysql"])
    assert (mysql_env["MYSQL_DATABASE"], mysql_env["MYSQL_USER"]) == ("riskgraph", "riskgraph")
    password = env_example()["MYSQL_PASSWORD"]
    for name in ("api", "dagster-code"):
        assert environment_of(svc[name])["RISKGRAPH_WAREHOUSE_URL"] == (
            f"mysql+pymysql://riskgraph:{password}@mysql:3306/riskgraph?charset=utf8mb4"
        )
    dagster_env = environment_of(svc["dagster-code"])
    assert (dagster_env["DAGSTER_MYSQL_USER"], dagster_env["DAGSTER_MYSQL_DB"]) == ("riskgraph", "dagster")


def _variables_read_by(paths: list[Path]) -> set[str]:
    pattern = re.compile(r"""(?:EnvVar|environ\.get|getenv|_env|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    names: set[str] = set()
    for path in paths:
        names |= set(pattern.findall(path.read_text()))
    return names


def _provided(service_name: str) -> set[str]:
    service = services(resolved())[service_name]
    dockerfile = REPO / service["build"]["dockerfile"]
    return set(environment_of(service)) | dockerfile_env(dockerfile)


def test_every_variable_the_code_reads_reaches_its_container():
    """A setting the code reads but compose never passes would silently fall back to the embedded default."""
    package = sorted((REPO / "risk_assets").rglob("*.py")) + sorted((REPO / "api").rglob("*.py"))
    missing = _variables_read_by(package) - _provided("dagster-code")
    assert missing == set(), f"dagster-code does not receive {sorted(missing)}"
    api_reads = [REPO / "risk_assets" / "settings.py", REPO / "risk_assets" / "version.py"]
    api_reads += sorted((REPO / "risk_assets" / "storage").rglob("*.py")) + sorted(
        (REPO / "api").rglob("*.py")
    )
    # DAGSTER_HOME: the API launches runs through the webserver's GraphQL and never opens the instance; the
    # sources' credentials: it fetches nothing from SEC, OpenDART, FRED or ECOS (least privilege).
    not_needed = {
        "DAGSTER_HOME",
        "RISKGRAPH_SEC_USER_AGENT",
        "OPENDART_API_KEY",
        "FRED_API_KEY",
        "ECOS_API_KEY",
    }
    missing = _variables_read_by(api_reads) - _provided("api") - not_needed
    assert missing == set(), f"api does not receive {sorted(missing)}"


def test_the_api_reaches_dagster_through_the_webserver():
    svc = services(resolved())
    url = environment_of(svc["api"])["RISKGRAPH_DAGSTER_URL"]
    command = svc["dagster-webserver"]["command"]
    assert url == f"http://dagster-webserver:{command[command.index('-p') + 1]}"


# --- Dockerfiles and .dockerignore ----------------------------------------------------------------------

DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))


def test_one_dockerfile_per_image():
    assert [path.name for path in DOCKERFILES] == [
        "api.Dockerfile",
        "dagster.Dockerfile",
        "mlflow.Dockerfile",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_is_pinned_slim_and_non_root(dockerfile):
    instructions = dockerfile_instructions(dockerfile)
    froms = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim"]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    installs = [
        arguments for keyword, arguments in instructions if keyword == "RUN" and "pip install" in arguments
    ]
    assert installs and all(re.search(r"pip install -c \S*requirements\.lock", run) for run in installs)


@pytest.mark.parametrize("name", ["dagster.Dockerfile", "api.Dockerfile"])
def test_product_images_install_the_package_from_the_lock(name):
    runs = [args for keyword, args in dockerfile_instructions(REPO / "docker" / name) if keyword == "RUN"]
    assert any("pip install -c requirements.lock ." in run for run in runs)


def test_the_dagster_image_carries_the_instance_and_workspace():
    instructions = dockerfile_instructions(REPO / "docker" / "dagster.Dockerfile")
    env = dockerfile_env(REPO / "docker" / "dagster.Dockerfile")
    assert "DAGSTER_HOME" in env
    assert any(k == "RUN" and 'cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in a for k, a in instructions)
    for name in ("dagster-webserver", "dagster-daemon"):
        command = services(resolved())[name]["command"]
        assert command[command.index("-w") + 1] == "/opt/riskgraph/app/workspace.yaml"


def test_the_dockerfile_parser_joins_continuations(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# c\nFROM a:1\nENV A=1 \\\n    B=2\nRUN x \\\n    # inner comment\n    && y\n")
    assert dockerfile_instructions(dockerfile) == [("FROM", "a:1"), ("ENV", "A=1 B=2"), ("RUN", "x && y")]
    assert dockerfile_env(dockerfile) == {"A", "B"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_copied_sources_exist_and_are_not_dockerignored(dockerfile):
    patterns = dockerignore_patterns()
    for keyword, arguments in dockerfile_instructions(dockerfile):
        if keyword != "COPY":
            continue
        *sources, _destination = [token for token in arguments.split() if not token.startswith("--")]
        for source in sources:
            if source == ".":
                continue
            assert (REPO / source).exists(), f"{dockerfile.name} copies missing {source}"
            assert not dockerignored(source, patterns), f"{dockerfile.name} copies ignored {source}"


def test_dockerignore_keeps_secrets_and_local_state_out_and_the_product_in():
    patterns = dockerignore_patterns()
    for path in [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "cloudflared/credentials.json",
        ".riskgraph/warehouse.db",
        "tests/core/test_metrics.py",
        "risk_assets/__pycache__/x.pyc",
    ]:
        assert dockerignored(path, patterns), path
    for path in [
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "dagster.yaml",
        "workspace.yaml",
        "risk_assets/definitions.py",
        "risk_assets/data/sec/companyfacts/x.json.gz",
        "api/main.py",
        "db/migrations/env.py",
    ]:
        assert not dockerignored(path, patterns), path


def test_the_dockerignore_matcher_follows_docker():
    patterns = ["**/__pycache__", "*.db", "cloudflared/*.json", "docs", "!docs/keep.md"]
    assert dockerignored("__pycache__/a.pyc", patterns)
    assert dockerignored("a/b/__pycache__", patterns)
    assert dockerignored("x.db", patterns)
    assert not dockerignored("data/x.db", patterns)  # `*.db` is anchored at the context root
    assert dockerignored("cloudflared/c.json", patterns)
    assert not dockerignored("cloudflared/config.yml", patterns)
    assert dockerignored("docs/a.md", patterns)
    assert not dockerignored("docs/keep.md", patterns)


# --- db/init ---------------------------------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def test_init_scripts_are_ordered_and_create_the_three_databases():
    sql = (REPO / "db" / "init" / "00_databases.sql").read_text()
    created = re.findall(r"CREATE DATABASE IF NOT EXISTS (\w+)", sql)
    assert created == ["riskgraph", "dagster", "mlflow"]
    granted = re.findall(r"GRANT ALL PRIVILEGES ON (\w+)\.\* TO 'riskgraph'@'%'", sql)
    assert granted == ["riskgraph", "dagster", "mlflow"]
    assert "IDENTIFIED BY" not in sql.upper(), "no password may be committed"
    # The entrypoint runs the files in name order: the databases come before 01_schema.sql (the lead's).
    assert sorted(path.name for path in (REPO / "db" / "init").iterdir())[0] == "00_databases.sql"


@pytest.mark.mysql
def test_init_script_runs_on_a_real_server():
    """00_databases.sql, with its names prefixed so it cannot touch real databases, as the image runs it."""
    import pymysql

    sql = (REPO / "db" / "init" / "00_databases.sql").read_text()
    with scratch_database() as server:
        prefix = server.database
        user = f"{prefix}_user"
        renamed = sql.replace("'riskgraph'@'%'", f"'{user}'@'%'")
        renamed = re.sub(r"\b(riskgraph|dagster|mlflow)\b(?=[.\s;])", lambda m: f"{prefix}_{m[1]}", renamed)
        connection = pymysql.connect(
            host=server.host, port=server.port, user=server.user, password=server.password, autocommit=True
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'scratch'")  # what MYSQL_USER does
                for statement in _statements(renamed):
                    cursor.execute(statement)
                cursor.execute(f"SHOW DATABASES LIKE '{prefix}\\_%'")
                databases = {row[0] for row in cursor.fetchall()}
                cursor.execute(f"SHOW GRANTS FOR '{user}'@'%'")
                grants = " ".join(row[0] for row in cursor.fetchall())
        finally:
            with connection.cursor() as cursor:
                for name in ("riskgraph", "dagster", "mlflow"):
                    cursor.execute(f"DROP DATABASE IF EXISTS `{prefix}_{name}`")
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            connection.close()
    assert databases == {f"{prefix}_riskgraph", f"{prefix}_dagster", f"{prefix}_mlflow"}
    for name in ("riskgraph", "dagster", "mlflow"):
        assert f"ON `{prefix}_{name}`.*" in grants


def test_copy_helper_keeps_the_document(tmp_path):
    raw = load_raw()
    assert yaml.safe_load(write_copy(copy.deepcopy(raw), tmp_path).read_text()) == raw


def _published_hosts(service: dict[str, Any]) -> list[str]:
    hosts = []
    for port in service.get("ports", []):
        parts = str(port).split(":")
        hosts.append(parts[0] if len(parts) == 3 else "0.0.0.0")
    return hosts


def test_the_api_is_published_on_loopback_unless_the_operator_says_otherwise():
    """The tunnel reaches the API over risknet: a deployment from .env.example publishes no plain-HTTP port
    beyond the host itself, and RISKGRAPH_API_BIND opens it deliberately."""
    assert _published_hosts(services(resolved())["api"]) == ["127.0.0.1"]
    opened = services(interpolate(load_raw(), {**env_example(), "RISKGRAPH_API_BIND": "0.0.0.0"}))["api"]
    assert _published_hosts(opened) == ["0.0.0.0"]


def test_the_data_services_wait_for_the_preflight_check():
    svc = services(resolved())
    assert svc["preflight"]["command"] == ["sh", "/preflight.sh"]
    assert "./docker/preflight.sh:/preflight.sh:ro" in svc["preflight"]["volumes"]
    for name in ("mysql", "minio"):
        assert svc[name]["depends_on"]["preflight"] == {"condition": "service_completed_successfully"}, name
    secrets = {name for name in env_example() if SECRET_NAME.search(name)}
    assert secrets <= set(environment_of(svc["preflight"]))


@pytest.mark.parametrize("placeholder", ["change-me", ""])
def test_preflight_refuses_the_placeholder_secrets(tmp_path, placeholder):
    script = REPO / "docker" / "preflight.sh"
    good = {name: "s3cret-value" for name in env_example() if SECRET_NAME.search(name)}
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    ok = subprocess.run(["sh", str(script)], env={**base, **good}, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    bad = {**good, "MINIO_ROOT_PASSWORD": placeholder}
    refused = subprocess.run(
        ["sh", str(script)], env={**base, **bad}, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 1
    assert "MINIO_ROOT_PASSWORD" in refused.stderr and "MYSQL_PASSWORD" not in refused.stderr

"""The image and compose file cannot be built here (no image registry), so
what they rely on is checked instead: the commands they run are tally's own
commands with options it accepts, every variable they set is one tally (or
a library it configures) reads, the image runs as a user without privileges
with `tally serve` as its entry point, and the store URL names the compose
file's own PostgreSQL. docs/configuration.md lists every setting."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from infrastructure.settings import DEFAULT_DATABASE_URL, Settings
from infrastructure.storage import parse_database_url
from interfaces.cli.main import app as cli

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_VARIABLES = re.compile(r"PROMETHEUS_MULTIPROC_DIR|OTEL_[A-Z_]+")
TALLY_SERVICES = ("tally", "projector")


def setting_variables() -> set[str]:
    """Each setting's environment variable: TALLY_<NAME>, or its alias."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else f"TALLY_{name.upper()}")
    return names


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == name]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def parses_as_tally_command(argv: list[str]) -> Any:
    """The command tally would run for argv, its options parsed (an unknown
    command or option raises)."""
    assert argv[0] == "tally", argv
    group: Any = typer.main.get_command(cli)
    context = group.make_context("tally", list(argv[1:]))
    command = group.get_command(context, argv[1])
    assert command is not None, f"tally has no command {argv[1]!r}"
    command.make_context(argv[1], list(argv[2:]), parent=context)
    return command


def test_the_image_runs_tally_serve_as_a_user_without_privileges() -> None:
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0"), users
    entrypoint = json.loads(instructions("ENTRYPOINT")[-1])
    command = json.loads(instructions("CMD")[-1])
    assert entrypoint == ["tally", "serve"]
    parses_as_tally_command([*entrypoint, *command])
    port = command[command.index("--port") + 1]
    assert instructions("EXPOSE") == [port]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container


def test_the_image_installs_the_package_from_the_repository() -> None:
    copied = {arguments.split()[0] for arguments in instructions("COPY")}
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert packages
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert package in copied, f"the image leaves out {package}/"
    assert "pyproject.toml" in copied
    assert any(re.search(r"pip install '\.(\[[a-z,]+\])?'", run) for run in instructions("RUN")), instructions("RUN")
    variables = {arguments.split("=", 1)[0] for arguments in instructions("ENV")}
    unknown = {name for name in variables if name.startswith("TALLY_")} - setting_variables()
    assert not unknown, unknown


@pytest.mark.parametrize("service", TALLY_SERVICES)
def test_each_compose_service_runs_a_tally_command_with_settings_tally_reads(service: str) -> None:
    services = compose()["services"]
    definition = services[service]
    entrypoint = definition.get("entrypoint") or json.loads(instructions("ENTRYPOINT")[-1])
    command = definition.get("command")
    command = json.loads(instructions("CMD")[-1]) if command is None else command
    argv = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
    parses_as_tally_command([*argv, *(shlex.split(command) if isinstance(command, str) else command)])
    environment: dict[str, str] = definition["environment"]
    unknown = {
        name for name in environment if name not in setting_variables() and not LIBRARY_VARIABLES.fullmatch(name)
    }
    assert not unknown, f"{service} sets variables tally does not read: {unknown}"
    for name, value in environment.items():
        if "${" not in str(value):
            Settings.model_validate({field_of(name): value})  # a value the setting accepts


def field_of(variable: str) -> str:
    for name, field in Settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        if (str(choices[0]) if choices else f"TALLY_{name.upper()}") == variable:
            return name
    raise AssertionError(variable)


def test_compose_points_tally_at_its_own_postgresql() -> None:
    services = compose()["services"]
    database = services["postgres"]["environment"]
    for service in TALLY_SERVICES:
        store = parse_database_url(services[service]["environment"]["TALLY_DATABASE_URL"])
        assert store.kind == "postgresql"
        url = services[service]["environment"]["TALLY_DATABASE_URL"]
        expected = f"postgresql://{database['POSTGRES_USER']}:{database['POSTGRES_PASSWORD']}@postgres:5432/"
        assert url == expected + database["POSTGRES_DB"]
        assert services[service]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["tally"]["environment"]["TALLY_PROJECTOR"] == "off"  # the projector service follows for it
    assert services["tally"]["ports"] == ["8000:8000"]


def test_every_setting_is_documented_with_the_page_serve_points_to() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = {name for name in setting_variables() if f"`{name}`" not in page}
    assert not missing, f"docs/configuration.md does not list {missing}"
    for command in ("serve", "project"):
        assert "docs/configuration.md" in (parses_as_tally_command(["tally", command]).epilog or "")


def test_the_demo_uses_the_store_tally_serve_uses() -> None:
    ran = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    recipe = ran.stdout.strip().splitlines()[-1]
    assert recipe.endswith("tally demo"), recipe
    assert "TALLY_DATABASE_URL" not in recipe, recipe  # the same variable, the same default
    assert DEFAULT_DATABASE_URL == "sqlite:///./tally.db"


def test_the_installed_package_carries_the_api_pages_assets() -> None:
    """The image installs the package (not the work tree): every file the
    API's pages serve must be package data."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    found = re.search(r"\[tool\.setuptools\.package-data\]\s*interfaces = \[([^\]]*)\]", pyproject)
    assert found
    patterns = re.findall(r'"([^"]+)"', found.group(1))
    folder = ROOT / "interfaces"
    assets = [
        path for path in (folder / "api_docs").rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")
    ]
    assert len(assets) > 5
    for path in assets:
        relative = path.relative_to(folder).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), f"{relative} is not package data"

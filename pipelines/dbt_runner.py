"""The one way pbx55 runs dbt: in this process, on the warehouse `Settings` names.

`pbx55 build`, `pbx55 run` and the Dagster dbt asset all call `build_models`, and every dbt
command goes through `dbt_invocation`, the one place that turns `Settings` into dbt's arguments
and environment. dbt reads its connection from environment variables (`dbt_models/profiles.yml`),
so the loader and dbt always point at the same store. The Postgres password travels as
`DBT_ENV_SECRET_PBX55_PG_PASSWORD`, which dbt scrubs from its logs; it is never printed here.

In-process rather than a `dbt` subprocess: a subprocess pays for importing dbt and loading the
project on every run, seconds that dominate an incremental build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from foundation.settings import Settings
from pipelines import unchanged_build
from pipelines.warehouse_lock import warehouse_writer

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_models"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"

log = logging.getLogger(__name__)


class DbtRunError(RuntimeError):
    """A dbt command failed (a model did not build or an error-severity test failed).

    Its message is one line: which nodes failed, with the first one's error, and where dbt's log
    is (`failure_summary`).
    """


# An event of dbt's structured log, as dbt writes it in JSON (`msg_to_dict`).
DbtEvent = dict[str, Any]


@dataclass(frozen=True)
class DbtInvocation:
    args: list[str]  # the command line after `dbt`
    env: dict[str, str]  # set for the duration of the run; dbt reads its config from there


def dbt_invocation(
    settings: Settings,
    command: Sequence[str],
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
    colours: bool = False,
) -> DbtInvocation:
    """dbt's arguments and environment for `command` (e.g. `["build", "--full-refresh"]`).

    dbt colours its output only with `colours` (for a terminal): in cron logs, the journal,
    Dagster events and its own log file the codes are noise. (With `colours`, dbt's log file gets
    the codes of the messages it colours too: it colours the message, not the console line.)
    Usage statistics are never sent to dbt Labs.
    """
    target_path = target_path or default_target_path(settings)
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        settings.warehouse,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path.parent / "logs"),
        "--use-colors" if colours else "--no-use-colors",
        "--no-use-colors-file",
        # dbt's debug lines (every statement it sends, every cache and connection event) cost an
        # incremental build more than a second of formatting and writing; the compiled SQL of
        # each node is in target/run/ anyway.
        "--log-level-file",
        "info",
        "--no-send-anonymous-usage-stats",
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True)]
    return DbtInvocation(args=args, env=dbt_env(settings))


def default_target_path(settings: Settings) -> Path:
    return settings.data_dir / "dbt" / "target"


def log_file(target_path: Path) -> Path:
    """dbt's own log of the runs writing to `target_path` (its `--log-path` is beside it)."""
    return target_path.parent / "logs" / "dbt.log"


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment variables `profiles.yml` and `dbt_project.yml` read, from `settings`.

    `PBX55_SCHEMA_PREFIX` is prepended to every schema, the raw one included, so that parallel
    test runs sharing a database never meet.
    """
    env = {
        "PBX55_WAREHOUSE": settings.warehouse,
        "PBX55_DUCKDB_PATH": str(settings.duckdb_path),
        "PBX55_TIMEZONE": settings.timezone,
        "PBX55_SCHEMA_PREFIX": settings.schema_prefix,
        "PBX55_AS_OF_UTC": settings.as_of_utc or "",
        # Which centrals the report API should answer for (never their keys), and for how long
        # a finished day is pulled again: the reconciliation's data-quality tests read them.
        "PBX55_REPORT_API_CENTRALS": ",".join(central for central, _ in settings.report_api_keys),
        "PBX55_REPORT_API_LOOKBACK_DAYS": str(settings.report_api_lookback_days),
        # The length of the intervals of kpi_by_interval and the marts built on it.
        "PBX55_INTERVAL_MINUTES": str(settings.interval_minutes),
    }
    if settings.postgres_url:
        url = urlsplit(settings.postgres_url)
        env |= {
            "PBX55_PG_HOST": url.hostname or "127.0.0.1",
            "PBX55_PG_PORT": str(url.port or 5432),
            "PBX55_PG_USER": unquote(url.username or "postgres"),
            "DBT_ENV_SECRET_PBX55_PG_PASSWORD": unquote(url.password or ""),
            "PBX55_PG_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        }
    return env


def run_dbt(
    settings: Settings,
    command: Sequence[str],
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
    on_event: Callable[[DbtEvent], None] | None = None,
) -> Any:
    """Run one dbt command on the project; return dbt's result, or raise `DbtRunError`.

    `on_event` receives every event of dbt's structured log as it happens (Dagster's events:
    never coloured). The parsed manifest is kept for later runs that render the same project
    (`_parsed_manifest`).
    """
    from dbt.cli.main import dbtRunner

    target_path = target_path or default_target_path(settings)
    invocation = dbt_invocation(
        settings,
        command,
        dbt_vars=dbt_vars,
        target_path=target_path,
        colours=on_event is None and sys.stdout.isatty(),
    )
    if settings.warehouse == "duckdb":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    callbacks = [_as_dict_callback(on_event)] if on_event else []
    log.info("dbt %s on %s", " ".join(command), settings.warehouse)
    with _environment(invocation.env):
        if command[0] == "parse":
            result = dbtRunner(callbacks=callbacks).invoke(invocation.args)
            if result.success:
                _remember_manifest(_manifest_key(invocation), result.result)
        else:
            manifest = _parsed_manifest(invocation, log_file(target_path))
            try:
                result = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(invocation.args)
            finally:
                if settings.warehouse == "duckdb":
                    _close_duckdb()
            if NO_ARTIFACTS in command and hasattr(result.result, "write"):
                result.result.write(str(target_path / "run_results.json"))
    if not result.success:
        raise DbtRunError(
            failure_summary(command[0], result.result, result.exception, log_file(target_path))
        ) from result.exception
    return result.result


def failure_summary(
    command: str, results: Any, exception: BaseException | None, log: Path, shown: int = 3
) -> str:
    """One line: the nodes that failed (the first with its error), how many were skipped, the log.

    `results` is dbt's result of the command (node results for build, run, test, seed);
    `exception` what dbt raised when it could not run at all (a project that does not parse).
    """
    node_results = getattr(results, "results", None) or []
    failed = [r for r in node_results if str(r.status) in ("error", "fail", "runtime error")]
    skipped = sum(1 for r in node_results if str(r.status) == "skipped")
    parts = []
    if failed:
        names = [f"{r.node.resource_type} {r.node.name} ({r.status})" for r in failed[:shown]]
        more = f" and {len(failed) - shown} more" if len(failed) > shown else ""
        parts.append(", ".join(names) + more)
        first, message = failed[0].node.name, _one_line(failed[0].message or "", lines=2)
        if message:
            parts.append(message if first in message else f"{first}: {message}")
    elif exception is not None:
        parts.append(_one_line(str(exception)))
    if skipped:
        parts.append(f"{skipped} skipped")
    return f"dbt {command} failed: " + "; ".join([*parts, f"log: {log}"])


def _one_line(text: str, lines: int | None = None, limit: int = 300) -> str:
    """`text` (its first `lines` non-blank lines: dbt's database errors go on to quote the SQL)
    joined into one line of at most `limit` characters."""
    kept = [line for line in text.splitlines() if line.strip()][:lines]
    line = " ".join(" ".join(kept).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _as_dict_callback(on_event: Callable[[DbtEvent], None]) -> Callable[[Any], None]:
    from dbt_common.events.functions import msg_to_dict

    return lambda message: on_event(msg_to_dict(message))


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in the process after an in-process run.

    Left open, it would lock the file against other processes (the loader) and refuse read-only
    connections in this one until the process exits.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV  # private: dbt-duckdb offers no public close
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


# Parsed manifests by what they were parsed under (`_manifest_key`), the latest few: a process
# that builds more than one warehouse (the tests, a demo beside the real one) parses each once.
_manifest_cache: dict[str, Any] = {}
MANIFESTS_KEPT = 4
# What reaches dbt but not its manifest, so two runs differing only in these share a parse: the
# connection (a node's database is the Postgres database's name or the DuckDB file's stem), the
# output paths, and the reference time of the grace period, which only the compiled SQL reads
# (var `as_of_utc`: dbt compiles each node at run time with the run's own vars).
_UNPARSED_VARS = ("as_of_utc",)
_UNPARSED_ENV = (
    "PBX55_AS_OF_UTC",
    "PBX55_DUCKDB_PATH",
    "PBX55_PG_HOST",
    "PBX55_PG_PORT",
    "PBX55_PG_USER",
    "DBT_ENV_SECRET_PBX55_PG_PASSWORD",
)
_UNPARSED_FLAGS = ("--target-path", "--log-path")


def _manifest_key(invocation: DbtInvocation) -> str:
    env = {name: value for name, value in invocation.env.items() if name not in _UNPARSED_ENV}
    env["duckdb_database"] = Path(invocation.env["PBX55_DUCKDB_PATH"]).stem
    flags = _parse_flags(invocation)
    rendered = []
    for previous, flag in zip([None, *flags], flags, strict=False):
        if previous in _UNPARSED_FLAGS:
            continue
        if previous == "--vars":
            run_vars = json.loads(flag).items()
            flag = json.dumps(
                {k: v for k, v in run_vars if k not in _UNPARSED_VARS}, sort_keys=True
            )
        rendered.append(flag)
    return hashlib.sha256(json.dumps([_project_fingerprint(), env, rendered]).encode()).hexdigest()


def _parse_flags(invocation: DbtInvocation) -> list[str]:
    """The arguments after the command (it comes first in `args`): what a parse renders."""
    return invocation.args[invocation.args.index("--project-dir") :]


def _remember_manifest(key: str, manifest: Any) -> None:
    _manifest_cache.pop(key, None)
    _manifest_cache[key] = manifest
    while len(_manifest_cache) > MANIFESTS_KEPT:
        del _manifest_cache[next(iter(_manifest_cache))]


def _parsed_manifest(invocation: DbtInvocation, log: Path) -> Any:
    from dbt.cli.main import dbtRunner

    key = _manifest_key(invocation)
    if key not in _manifest_cache:
        result = dbtRunner().invoke(["parse", "--quiet", *_parse_flags(invocation)])
        if not result.success:
            raise DbtRunError(
                failure_summary("parse", None, result.exception, log)
            ) from result.exception
        _remember_manifest(key, result.result)
    return _manifest_cache[key]


def _project_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(_project_files()):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _project_files() -> list[Path]:
    sources = (
        path
        for folder in ("models", "macros", "seeds", "tests")
        for path in (DBT_PROJECT_DIR / folder).rglob("*")
        if path.is_file()
    )
    return [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml", *sources]


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` set in `os.environ` for the duration of a dbt invocation, which reads it from there."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_models(
    settings: Settings,
    *,
    full_refresh: bool = False,
    unit_tests: bool = False,
    select: Sequence[str] = (),
    dbt_vars: Mapping[str, Any] | None = None,
    on_event: Callable[[DbtEvent], None] | None = None,
    even_if_unchanged: bool = False,
) -> Any:
    """`dbt build` under the writer lock: seeds, models (incrementally unless `full_refresh`)
    and data tests, of the whole project or of the nodes in `select`. Returns dbt's result, or
    an `unchanged_build.SkippedBuild` when nothing could have changed since the last build
    (never with `even_if_unchanged`).

    dbt unit tests check the SQL, not the data, so routine runs leave them out; CI runs them with
    `unit_tests=True`, and then the data tests check every row, not only the rows this build wrote
    (var `data_tests_on_all_rows`, macros/data_test_scope.sql).
    """
    with warehouse_writer(settings, "dbt build"):
        seeds_current = not full_refresh and _seeds_current(settings)
        command = build_command(
            full_refresh=full_refresh,
            unit_tests=unit_tests,
            skip_seeds=seeds_current,
            select=select,
        )
        if unit_tests:
            dbt_vars = {"data_tests_on_all_rows": True, **(dbt_vars or {})}
        # Only a routine build of the whole project may be skipped (pipelines/unchanged_build.py).
        whole_project = not unit_tests and not select
        record = unchanged_build.record_path(settings, _warehouse_key(settings))
        if whole_project and seeds_current and not even_if_unchanged:
            key, manifest = _routine_build(settings, dbt_vars)
            as_of = _project_var("as_of_utc", dbt_vars) or settings.as_of_utc
            skipped = unchanged_build.skipped_build(settings, record, key, manifest, as_of)
            if skipped is not None:
                log.info(skipped.message)
                return skipped
        record.unlink(missing_ok=True)
        result = run_dbt(settings, command, dbt_vars=dbt_vars, on_event=on_event)
        if not seeds_current:
            marker = _seeds_marker(settings)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(_seeds_fingerprint())
        if whole_project:
            key, manifest = _routine_build(settings, dbt_vars)
            grace_hours = float(_project_var("incomplete_grace_hours", dbt_vars))
            unchanged_build.write_record(settings, record, key, manifest, grace_hours)
    return result


def _routine_build(settings: Settings, dbt_vars: Mapping[str, Any] | None) -> tuple[str, Any]:
    """The key (`unchanged_build.run_key`) and parsed manifest of a routine build: the whole
    project, incremental, seeds current. A build is recorded under it, whatever its own flags."""
    command = build_command(full_refresh=False, unit_tests=False, skip_seeds=True, select=())
    invocation = dbt_invocation(settings, command, dbt_vars=dbt_vars)
    key = unchanged_build.run_key(_project_fingerprint(), invocation.env, dbt_vars, command)
    with _environment(invocation.env):  # dbt renders the profile and project from it
        return key, _parsed_manifest(invocation, log_file(default_target_path(settings)))


def _project_var(name: str, dbt_vars: Mapping[str, Any] | None) -> Any:
    """A var as dbt resolves it for a run: `--vars` first, then dbt_project.yml's (unrendered:
    only for vars whose default is a plain value, or empty when it reads the environment)."""
    if dbt_vars and name in dbt_vars:
        return dbt_vars[name]
    import yaml

    default = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]
    return None if isinstance(default, str) and "{{" in default else default


# dbt writes its manifest.json (and graph.gpickle) into the target path at the end of every
# build, a few tenths of a second that no reader here needs (Dagster reads the prepared one,
# MANIFEST_PATH); without them, run_dbt writes the one artifact still read, run_results.json.
NO_ARTIFACTS = "--no-write-json"


def build_command(
    *, full_refresh: bool, unit_tests: bool, skip_seeds: bool, select: Sequence[str]
) -> list[str]:
    """The `dbt build` command line.

    Seeds are skipped when this warehouse already holds the current ones (`_seeds_current`):
    reloading them would only cost time and rebuild nothing.
    """
    command = ["build", NO_ARTIFACTS]
    if full_refresh:
        command.append("--full-refresh")
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    if skip_seeds:
        command += ["--exclude-resource-type", "seed"]
    if select:
        command += ["--select", *select]
    return command


def _seeds_current(settings: Settings) -> bool:
    """Whether the seed tables exist and were loaded from the current CSVs and project file."""
    marker = _seeds_marker(settings)
    return (
        marker.exists()
        and marker.read_text() == _seeds_fingerprint()
        and _seed_tables_exist(settings)
    )


SEED_SCHEMA = "reference"


def _seeds_fingerprint() -> str:
    """The seed CSVs and the project file (which declares their column types)."""
    digest = hashlib.sha256()
    for path in [DBT_PROJECT_DIR / "dbt_project.yml", *sorted(_seed_files())]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _seed_files() -> list[Path]:
    return list((DBT_PROJECT_DIR / "seeds").glob("*.csv"))


def _seeds_marker(settings: Settings) -> Path:
    """Where the fingerprint of the seeds last loaded into this warehouse and prefix is kept."""
    return settings.data_dir / "dbt" / f"seeds-loaded-{_warehouse_key(settings)}.sha256"


def _warehouse_key(settings: Settings) -> str:
    """Which warehouse and schema prefix dbt writes to, as a file name part."""
    env = dbt_env(settings)
    env.pop("DBT_ENV_SECRET_PBX55_PG_PASSWORD", None)
    env.pop("PBX55_AS_OF_UTC")  # not where the models are
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]


def _seed_tables_exist(settings: Settings) -> bool:
    schema = settings.schema_prefix + SEED_SCHEMA
    query = "select table_name from information_schema.tables where table_schema = ?"
    rows = unchanged_build.warehouse_rows(settings, query, [schema])
    return {path.stem for path in _seed_files()} <= {row[0] for row in rows}


def prepare_manifest(settings: Settings, *, force: bool = False) -> Path:
    """Make sure `dbt_models/target/manifest.json` exists and is newer than the project files.

    Dagster builds the dbt assets from this manifest in every process (webserver, daemon, run
    workers), so it is prepared ahead of time by an explicit step (`pbx55 prepare`), never at
    import, where processes starting together would race on it.
    """
    if force or _manifest_is_stale():
        run_dbt(settings, ["parse", "--quiet"], target_path=MANIFEST_PATH.parent)
    return MANIFEST_PATH


def _manifest_is_stale() -> bool:
    if not MANIFEST_PATH.exists():
        return True
    built = MANIFEST_PATH.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _project_files())

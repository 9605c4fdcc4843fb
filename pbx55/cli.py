"""The `pbx55` console script: one sub-command per stage, all driven by `Settings`.

Imports are local to each command so that `pbx55 serve` never loads Dagster or dbt,
and `pbx55 load` never loads the HTTP stack.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from datetime import date

from foundation.settings import ConfigurationError, Settings
from pipelines.warehouse_lock import WarehouseBusy

log = logging.getLogger("pbx55")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.server import serve

    serve(settings, host=args.host, port=args.port, insecure_no_auth=args.insecure_no_auth)
    return 0


def _load(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.loader.load import load_landed_pushes

    summary = load_landed_pushes(settings, rotate_pii_key=args.rotate_pii_key)
    print(summary)
    return 0


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.dbt_runner import build_models

    build_models(settings, full_refresh=args.full_refresh)
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.bi_copy import publish_bi_copy

    publication = publish_bi_copy(settings)
    if publication.path is None:
        print(publication.note)
    else:
        print(f"published {len(publication.tables)} marts tables to {publication.path}")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.warehouse_lock import warehouse_writer

    # The steps of the Dagster job `load_landed_pushes`, under one hold of the writer lock so
    # that no other writer slips in between them; the report only reads what BI reads.
    with warehouse_writer(settings, "pbx55 run"):
        _load(args, settings)
        _build(args, settings)
        _publish(args, settings)
    return _daily_report_after_refresh(settings)


def _daily_report_after_refresh(settings: Settings) -> int:
    from pipelines.daily_report import write_daily_report

    print(f"daily report: {write_daily_report(settings)}")
    return 0


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.bi_copy import publish_bi_copy
    from pipelines.dbt_runner import build_models
    from pipelines.report_api.pull import (
        ReportPullFailedError,
        days_between,
        days_to_reconcile,
        pull_report_days,
    )
    from pipelines.warehouse_lock import warehouse_writer

    days = days_to_reconcile(settings)
    if args.from_day or args.to_day:
        days = days_between(args.from_day or args.to_day, args.to_day or days[-1])
    failure = None
    # The steps of the Dagster job `reconcile_report_days`; the answers are fetched before the
    # writer lock is taken, so a slow API never holds up the loads of pushes.
    try:
        summary = pull_report_days(settings, days)
    except ReportPullFailedError as error:
        summary, failure = error.summary, error
    print(summary)
    if summary.loaded:
        with warehouse_writer(settings, "pbx55 reconcile"):
            build_models(settings)
            publish_bi_copy(settings)
        _daily_report_after_refresh(settings)
    if failure is not None:
        raise failure
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.daily_report import write_daily_report

    print(write_daily_report(settings, day=args.day))
    return 0


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from pbx55.rebuild import rebuild_warehouse, warehouse_state

    if not args.yes:
        state = warehouse_state(settings)
        print(
            f"pbx55 rebuild: replaces the warehouse with what the {state.landing_files} sealed "
            f"landing files under {settings.pushes_dir} hold (it has loaded "
            f"{state.loaded_files}; pushes whose files were purged or deleted leave it, and so "
            "do their days in the marts) — run again with --yes to go ahead",
            file=sys.stderr,
        )
        return 2
    rebuilt = rebuild_warehouse(settings, rotate_pii_key=args.rotate_pii_key)
    print(rebuilt.load)
    if rebuilt.publication.path is not None:
        print(f"published {len(rebuilt.publication.tables)} marts tables")
    if rebuilt.previous is not None:
        print(
            f"the previous warehouse is at {rebuilt.previous}: it holds personal data, delete "
            "it once the rebuilt one is checked"
        )
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.loader.retention import purge_expired
    from pipelines.report_api.pull import delete_report_days_before

    summary = purge_expired(settings)
    report_rows = delete_report_days_before(settings, summary.cutoff.date())
    print(f"{summary}, {report_rows} report API rows")
    return 0


def _docs(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.dbt_runner import run_dbt
    from pipelines.warehouse_lock import warehouse_writer

    # Generating the catalog opens the warehouse, which on DuckDB only one process may do.
    with warehouse_writer(settings, "pbx55 docs"):
        run_dbt(settings, ["docs", "generate"])
    run_dbt(settings, ["docs", "serve", "--port", str(args.port)])
    return 0


def _prepare(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.dbt_runner import prepare_manifest

    print(f"dbt manifest for Dagster: {prepare_manifest(settings, force=True)}")
    return 0


def _dagster(args: argparse.Namespace, settings: Settings) -> int:
    from pbx55.dagster_instance import exec_dagster_process

    exec_dagster_process(settings, args.process, args.options)
    return 0  # not reached: the process is Dagster's now


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from pbx55.simulate import run_from_args

    return run_from_args(args, settings)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from pbx55.demo import run_demo

    return run_demo(settings, calls=args.calls)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day as YYYY-MM-DD: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pbx55", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the push receiver")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8055)
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="accept pushes without a token (only for local experiments)",
    )
    serve.set_defaults(handler=_serve)

    load = commands.add_parser("load", help="load sealed landing files into the raw table")
    load.set_defaults(handler=_load)
    build = commands.add_parser("build", help="run the dbt models and tests")
    build.set_defaults(handler=_build)
    run = commands.add_parser(
        "run",
        help="load, build, publish the BI copy, then write the daily report (what the Dagster "
        "load job does)",
    )
    run.set_defaults(handler=_run)
    for command in (build, run):
        command.add_argument(
            "--full-refresh",
            action="store_true",
            help="rebuild every incremental model from the whole raw history "
            "(after changing model logic or upgrading pbx55)",
        )
    reconcile = commands.add_parser(
        "reconcile",
        help="pull the report API's days (today and PBX55_REPORT_API_LOOKBACK_DAYS before it, "
        "or --from/--to), then build and publish (what the Dagster job reconcile_report_days does)",
    )
    reconcile.add_argument(
        "--from", dest="from_day", type=_day, help="first local day to pull, YYYY-MM-DD"
    )
    reconcile.add_argument(
        "--to", dest="to_day", type=_day, help="last local day to pull (default: today)"
    )
    reconcile.set_defaults(handler=_reconcile)
    report = commands.add_parser(
        "report",
        help="write the daily report (one self-contained HTML file) of the last complete day, or "
        "--day, from the served marts; prints its path (the Dagster jobs write it after each "
        "BI copy)",
    )
    report.add_argument("--day", type=_day, help="local day to report on, YYYY-MM-DD")
    report.set_defaults(handler=_report)
    rebuild = commands.add_parser(
        "rebuild",
        help="recreate the warehouse from the landing files: load, build --full-refresh, publish",
    )
    rebuild.add_argument("--yes", action="store_true", help="go ahead (it replaces the warehouse)")
    rebuild.set_defaults(handler=_rebuild)
    for command in (load, run, rebuild):
        command.add_argument(
            "--rotate-pii-key",
            action="store_true",
            help="load under a PBX55_PII_KEY other than the warehouse's: earlier tokens stay, so "
            "callers' histories split unless rebuilt (README, Backup, restore and upgrade)",
        )

    commands.add_parser("publish", help="publish the BI serving copy of the marts").set_defaults(
        handler=_publish
    )
    commands.add_parser(
        "purge",
        help="delete landing files and raw rows older than PBX55_RAW_RETENTION_DAYS "
        "(the Dagster job hourly_refresh does it every hour)",
    ).set_defaults(handler=_purge)
    commands.add_parser(
        "prepare", help="parse the dbt project into the manifest Dagster loads its assets from"
    ).set_defaults(handler=_prepare)

    docs = commands.add_parser(
        "docs", help="the data dictionary: dbt docs of every model and column, served locally"
    )
    docs.add_argument("--port", type=int, default=8080)
    docs.set_defaults(handler=_docs)

    dagster = commands.add_parser(
        "dagster",
        help="run Dagster's daemon, webserver or `dagster` command on pbx55's instance "
        "configuration, written first into $PBX55_DATA_DIR/dagster_home (the services and "
        "make dev run the first two)",
    )
    dagster.add_argument("process", choices=("daemon", "webserver", "cli"))  # dagster_instance
    dagster.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="passed on to dagster-daemon run, dagster-webserver or dagster "
        "(e.g. webserver --port 3000, cli instance migrate)",
    )
    dagster.set_defaults(handler=_dagster)

    simulate = commands.add_parser("simulate", help="send realistic 55pbx traffic to a receiver")
    from pbx55.simulate import add_arguments

    add_arguments(simulate)
    simulate.set_defaults(handler=_simulate)

    demo = commands.add_parser("demo", help="a simulated day end to end (what `make demo` runs)")
    demo.add_argument("--calls", type=int, default=2000)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"pbx55: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, settings)
    except ConfigurationError as error:
        log.debug("configuration error", exc_info=True)  # the traceback, under -v only
        print(f"pbx55: configuration error: {error}", file=sys.stderr)
        return 2
    except WarehouseBusy as error:
        print(f"pbx55: {error}", file=sys.stderr)
        return 3
    except Exception as error:
        from pbx55.failures import expected_failure

        failure = expected_failure(error, settings)
        if failure is None:
            raise
        if args.verbose:
            traceback.print_exception(error)
        print(f"pbx55: {failure.message}", file=sys.stderr)
        return failure.exit_status


if __name__ == "__main__":
    sys.exit(main())

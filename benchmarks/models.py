"""Incremental `dbt build` of the models: a fixed batch on top of ever larger histories (DuckDB).

For each history size (default 1M, 5M and 10M pushes), raw pushes in the shape of
`pbx55_raw.pushes` (docs/contracts.md) are generated with SQL straight into a fresh DuckDB file:
about four pushes per call (IVR, queue, agent, final) with abandons, IVR abandons, outbound calls,
SMS, transfers, duplicate retries and calls whose final push never came, one call every
CALL_SPACING_S seconds. The models are built from scratch, then, `--rounds` times, a batch of
NEW_PUSHES pushes arrives (new calls continuing the history, plus the final pushes and retries of
the calls still in progress at the cut) and the models are built incrementally; last, a build with
nothing new. The batch is the same size whatever the history, so the incremental times show
whether a run's cost grows with the history: the target is a 10M run at most 1.5x the 1M one and
a build with nothing new under 3 s. A build with nothing new is skipped
(pipelines/unchanged_build.py); "dbt anyway" is the same build with dbt run regardless, about
what a refresh costs when a call in progress has just run out of its grace period. The reference
time of the grace period (`as_of_utc`) is pinned to the newest push, as a minute-by-minute
refresh would see it.

Times are wall clock of a whole `build_models` (models and data tests); `build_models` runs dbt
in-process and reuses the parsed project, so the start-up (import and parse) is timed apart.
dbt's node log goes to OUTPUT_DIR/dbt-<size>.log, and each node's time in the first incremental
build at each size to OUTPUT_DIR/nodes.tsv (one column per size), which shows which nodes grow.

    .venv/bin/python benchmarks/models.py [--sizes 1000000 5000000 10000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from foundation.settings import Settings
from pipelines.dbt_runner import build_models, log_file, run_dbt

PUSHES_PER_CALL = 4
PUSHES_PER_CALL_MEAN = 3.8  # some stages are skipped, some retried
CALL_SPACING_S = 10  # one call every 10 s: 1M pushes are about a month of history
HISTORY_START = dt.datetime(2026, 1, 1)  # the reporting wall time of the first call
UTC_OFFSET = dt.timedelta(hours=3)  # America/Sao_Paulo
NEW_PUSHES = 10_000
# A call's last push comes at most wait + talk + 30 s after it starts (PUSHES_SQL): 100 calls
# before the cut reach every push still to come.
CALLS_IN_FLIGHT = 100
OUTPUT_DIR = Path(os.environ.get("PBX55_DATA_DIR", "data")) / "bench" / "models"

# One row per (call, stage); `n` is the call number, `stage` 0..3 = IVR, queue, agent, final, and
# 4 = a retried final push. Calls start every CALL_SPACING_S seconds from HISTORY_START, so new
# calls continue the history. Pseudo-random but deterministic traits come from hash(n).
PUSHES_SQL = """
with calls as (
    select
        n,
        hash(n) % 1000 as dice,
        timestamp '{history_start}' + to_seconds(n * {spacing}) as started_local
    from range({first_call}, {end_call}) as calls(n)
),
traits as (
    select
        *,
        case when dice < 850 then 'receptivo' when dice < 970 then 'ativo' else 'sms' end
            as call_type,
        dice % 100 < 75 as answered,
        dice % 100 between 90 and 94 as stays_in_ivr,
        dice % 100 = 99 as final_never_arrives,
        dice % 50 = 7 as transfers,
        dice % 45 = 3 as retried,
        cast(10 + hash(n + 1) % 90 as bigint) as wait_s,
        cast(20 + hash(n + 2) % 600 as bigint) as talk_s
    from calls
),
stages as (
    select traits.*, stage
    from traits, range(0, {pushes_per_call} + 1) as stages(stage)
    where
        (stage < 3 or (stage = 3 and not final_never_arrives) or (stage = 4 and retried))
        and not (call_type = 'sms' and stage <> 3)
        and not (call_type = 'ativo' and stage in (1, 2))
        and not (stays_in_ivr and stage in (1, 2))
)
select
    lpad(to_hex(epoch_us(received_at)), 16, '0') || '-bench001-'
        || lpad(to_hex(n * 8 + stage), 8, '0') as push_id,
    received_at,
    'bench001' as receiver_id,
    'POST' as method,
    '/pushes' as request_path,
    'token-0-00000000' as auth,
    'json' as parse_mode,
    md5(cast(n as varchar) || '-' || cast(least(stage, 3) as varchar)) as body_sha256,
    cast(null as varchar) as raw_body,
    'pushes/date=' || strftime(received_at, '%Y-%m-%d') || '/hour='
        || strftime(received_at, '%H') || '/bench001-1.jsonl' as source_file,
    n * 8 + stage as line_number,
    cast(null as varchar) as extra_fields_json,
    cast(null as varchar) as parse_errors,
    cast(null as varchar) as unparsed_values_json,
    cast(100 + (n // 1000) % 3 as varchar) as central_id,
    cast(n as varchar) as call_id,
    case when stage >= 2 and not stays_in_ivr then cast(5000 + n % 40 as varchar) end
        as branch_mask,
    case when stage >= 2 then 'agent' || cast(n % 40 as varchar) || '@example.com' end
        as branch_email,
    '551140040000' as call_terminal,
    call_type,
    '11' || cast(900000000 + hash(n) % 50000 as varchar) as call_number,
    '11' as call_area_code,
    '55' as call_country_code,
    case when dice % 3 = 0 then cast(10000000000 + hash(n) % 30000 as varchar) else '' end
        as call_document,
    '' as call_order,
    'Opcao - ' || cast(1 + dice % 4 as varchar) as call_ura,
    case when stage = 0 or stays_in_ivr or call_type <> 'receptivo' then ''
        else '4961-QUEUE_' || cast(n % 8 as varchar) end as call_queue,
    case
        when stage = 0 then 'new_call'
        when stage = 1 then 'call_waiting'
        when stage = 2 then 'new_call'
        when call_type = 'sms' then ''
        when answered then 'call_attended'
        else 'call_abandoned'
    end as call_status,
    case when stage >= 3 and call_type <> 'sms' then 'externo' else '' end as call_disconnection,
    case when stage >= 3 and answered and call_type <> 'sms'
        then 'https://recordings.example.com/' || cast(n as varchar) || '.mp3' else '' end
        as call_url_audio,
    '' as call_audio_file,
    case when stage >= 3 and transfers then cast(n + 1 as varchar) else '' end
        as call_transfer_id,
    case when call_type = 'sms' then 'SMS' else 'VC2' end as call_tax_type,
    case when stage >= 3 and answered and call_type <> 'sms' then talk_s else 0 end as call_time,
    case when stage >= 3 and call_type <> 'sms' then wait_s + talk_s else 0 end as call_duration,
    case when stage >= 1 then wait_s else 0 end as call_time_waiting,
    0.58 as call_tax,
    case
        when stage < 3 then 0.0
        when call_type = 'sms' then 0.1
        when answered then round(0.58 * greatest(30, ceil(talk_s / 6.0) * 6) / 60, 2)
        else 0.0
    end as call_cost,
    case when stage >= 3 then 1000.0 else null end as call_balance,
    strftime(started_local, '%Y-%m-%d %H:%M:%S') as call_date_raw,
    started_local as call_date_local,
    timezone('UTC', started_local + interval 3 hour) as call_date_utc,
    'ymd_hms' as call_date_format,
    'abcd1234' as pii_key_id,
    md5('caller' || cast(hash(n) % 50000 as varchar)) as caller_token,
    '11' as caller_ddd,
    'mobile' as caller_number_type,
    '(11) 9****-' || lpad(cast(hash(n) % 10000 as varchar), 4, '0') as caller_masked,
    case when dice % 3 = 0 then md5('doc' || cast(hash(n) % 30000 as varchar)) end
        as document_token,
    case when dice % 3 = 0 then 'cpf' end as document_kind,
    case when stage >= 2 then md5('agent' || cast(n % 40 as varchar)) end as branch_email_token,
    '1' as _dlt_load_id,
    md5(cast(n * 8 + stage as varchar)) as _dlt_id
from (
    select
        stages.*,
        timezone('UTC', started_local + interval 3 hour)
            + to_seconds(case stage when 0 then 1 when 1 then 5 when 2 then 20
                when 3 then wait_s + talk_s + 2 else wait_s + talk_s + 30 end)
            as received_at
    from stages
)
where received_at >= timestamptz '{since}+00' and received_at < timestamptz '{until}+00'
"""


def received_cut(call: int) -> str:
    """The UTC time call `call` starts: pushes received before it are the history up to it."""
    started = HISTORY_START + UTC_OFFSET + dt.timedelta(seconds=call * CALL_SPACING_S)
    return started.isoformat(sep=" ")


def pushes_sql(first_call: int, end_call: int) -> str:
    """The pushes received from call `first_call`'s start until call `end_call`'s start."""
    return PUSHES_SQL.format(
        history_start=HISTORY_START.isoformat(sep=" "),
        spacing=CALL_SPACING_S,
        first_call=max(0, first_call - CALLS_IN_FLIGHT),
        end_call=end_call,
        pushes_per_call=PUSHES_PER_CALL,
        since=received_cut(first_call),
        until=received_cut(end_call),
    )


def add_pushes(path: Path, first_call: int, end_call: int) -> int:
    """Append `pushes_sql` in receive order, as the loader appends; return how many."""
    with duckdb.connect(str(path)) as connection:
        if first_call == 0:
            connection.execute("create schema pbx55_raw")
            connection.execute(
                f"create table pbx55_raw.pushes as {pushes_sql(0, end_call)} order by received_at"
            )
            return connection.execute("select count(*) from pbx55_raw.pushes").fetchone()[0]
        before = connection.execute("select count(*) from pbx55_raw.pushes").fetchone()[0]
        connection.execute(
            f"insert into pbx55_raw.pushes {pushes_sql(first_call, end_call)} order by received_at"
        )
        return connection.execute("select count(*) from pbx55_raw.pushes").fetchone()[0] - before


def node_seconds(settings: Settings) -> dict[str, float]:
    """Each node's execution time in dbt's last invocation (run_results.json)."""
    results = json.loads((settings.data_dir / "dbt" / "target" / "run_results.json").read_text())
    return {result["unique_id"]: result["execution_time"] for result in results["results"]}


def timed_build(
    settings: Settings, *, full_refresh: bool = False, even_if_unchanged: bool = False
) -> float:
    started = time.perf_counter()
    build_models(settings, full_refresh=full_refresh, even_if_unchanged=even_if_unchanged)
    return time.perf_counter() - started


def measure(size: int, rounds: int, workdir: Path) -> dict:
    """A full build over about `size` pushes, `rounds` incremental builds after a batch of
    NEW_PUSHES each, and one with nothing new."""
    calls = int(size / PUSHES_PER_CALL_MEAN)
    batch_calls = int(NEW_PUSHES / PUSHES_PER_CALL_MEAN)
    last_call = calls + rounds * batch_calls
    settings = Settings.from_env(
        {
            "PBX55_DATA_DIR": str(workdir),
            "PBX55_DUCKDB_PATH": str(workdir / "bench.duckdb"),
            "PBX55_AS_OF_UTC": received_cut(last_call),
        }
    )
    history = add_pushes(settings.duckdb_path, 0, calls)

    started = time.perf_counter()
    run_dbt(settings, ["parse"])
    startup_s = time.perf_counter() - started
    full_s = timed_build(settings, full_refresh=True)

    batches, incremental_s, nodes = [], [], {}
    for round_ in range(rounds):
        first = calls + round_ * batch_calls
        batches.append(add_pushes(settings.duckdb_path, first, first + batch_calls))
        incremental_s.append(timed_build(settings))
        if round_ == 0:
            nodes = node_seconds(settings)
    nothing_new_s = timed_build(settings)
    dbt_nothing_new_s = timed_build(settings, even_if_unchanged=True)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log_file(settings.data_dir / "dbt" / "target"), OUTPUT_DIR / f"dbt-{size}.log")
    return {
        "history": history,
        "batch": statistics.median(batches),
        "startup_s": startup_s,
        "full_s": full_s,
        "incremental_s": incremental_s,
        "nothing_new_s": nothing_new_s,
        "dbt_nothing_new_s": dbt_nothing_new_s,
        "nodes": nodes,
    }


def write_node_times(sizes: list[int], results: list[dict]) -> Path:
    """nodes.tsv: each node's seconds in the first incremental build, one column per size,
    the nodes that grew most with the history first."""
    names = set().union(*(result["nodes"] for result in results))

    def growth(name: str) -> float:
        return results[-1]["nodes"].get(name, 0.0) - results[0]["nodes"].get(name, 0.0)

    lines = ["\t".join(["node", *(str(size) for size in sizes)])]
    for name in sorted(names, key=growth, reverse=True):
        times = (f"{result['nodes'].get(name, 0.0):.3f}" for result in results)
        lines.append("\t".join([name, *times]))
    path = OUTPUT_DIR / "nodes.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=3, help="incremental builds per size")
    args = parser.parse_args()
    os.environ["DBT_QUIET"] = "true"  # the node log goes to dbt's log file only
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="pbx55-bench-models-") as workdir:
            results.append(measure(size, args.rounds, Path(workdir)))
    nodes = write_node_times(args.sizes, results)
    first_median = statistics.median(results[0]["incremental_s"])
    print(
        f"incremental dbt build after {NEW_PUSHES:,} new pushes (min / median / max of "
        f"{args.rounds}); ratio: median against the smallest history's; node times: {nodes}"
    )
    header = (
        "history",
        "batch",
        "start-up s",
        "full s",
        "incremental s",
        "ratio",
        "nothing new s",
        "dbt anyway s",
    )
    print("{:>11} {:>7} {:>10} {:>7} {:>20} {:>6} {:>13} {:>12}".format(*header))
    for result in results:
        times = result["incremental_s"]
        spread = f"{min(times):.1f} / {statistics.median(times):.1f} / {max(times):.1f}"
        ratio = statistics.median(times) / first_median
        print(
            f"{result['history']:>11,} {result['batch']:>7,.0f} {result['startup_s']:>10.1f} "
            f"{result['full_s']:>7.1f} {spread:>20} {ratio:>6.2f} {result['nothing_new_s']:>13.2f} "
            f"{result['dbt_nothing_new_s']:>12.1f}"
        )
    print("targets: ratio at the largest history <= 1.5, nothing new < 3 s")


if __name__ == "__main__":
    main()

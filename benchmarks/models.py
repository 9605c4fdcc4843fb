"""Full versus incremental `dbt build` of the models over large raw histories (DuckDB).

For each history size, raw pushes in the shape of `pbx55_raw.pushes` (docs/contracts.md)
are generated with SQL straight into a fresh DuckDB file: about four pushes per call (IVR, queue,
agent, final) with abandons, IVR abandons, outbound calls, SMS, transfers, duplicate retries and
calls whose final push never came. The models are built from scratch, then 1 % more pushes arrive
(new calls, plus final pushes and retries for the newest calls) and the models are built again,
incrementally. Prints both wall times (a whole `build_models`: seeds when needed, models, data
tests) and their ratio at each size, and the same for the time dbt spent executing models only
(from run_results.json), which leaves out the fixed cost of a dbt invocation.

`build_models` runs dbt in-process and reuses the parsed project, so a process pays once for
importing dbt and parsing: that start-up is measured apart, before both builds, and printed in
its own column (a fresh `pbx55 build` process pays it on every run; a long-lived one, once).

    .venv/bin/python benchmarks/models.py [--sizes 1000000 5000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from foundation.settings import Settings
from pipelines.dbt_runner import build_models, run_dbt

PUSHES_PER_CALL = 4
CALL_SPACING_S = 10  # one call every 10 s: 1M pushes are about a month of history
HISTORY_START = "2026-01-01 00:00:00"
NEW_SHARE = 0.01

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
"""


def pushes_sql(first_call: int, end_call: int) -> str:
    return PUSHES_SQL.format(
        history_start=HISTORY_START,
        spacing=CALL_SPACING_S,
        first_call=first_call,
        end_call=end_call,
        pushes_per_call=PUSHES_PER_CALL,
    )


def count_pushes(path: Path) -> int:
    with duckdb.connect(str(path)) as connection:
        return connection.execute("select count(*) from pbx55_raw.pushes").fetchone()[0]


def model_seconds(settings: Settings) -> float:
    """Time dbt spent executing models in its last invocation (run_results.json)."""
    results = json.loads((settings.data_dir / "dbt" / "target" / "run_results.json").read_text())
    return sum(
        result["execution_time"]
        for result in results["results"]
        if result["unique_id"].startswith("model.")
    )


def measure(size: int, workdir: Path) -> tuple[int, float, float, float, int, float, float]:
    """Full build over about `size` pushes, then an incremental build after 1 % more."""
    settings = Settings.from_env(
        {"PBX55_DATA_DIR": str(workdir), "PBX55_DUCKDB_PATH": str(workdir / "bench.duckdb")}
    )
    calls = int(size / (PUSHES_PER_CALL - 0.2))  # some stages are skipped, some retried
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("create schema pbx55_raw")
        # Loaded in receive order, as the loader appends.
        connection.execute(
            f"create table pbx55_raw.pushes as {pushes_sql(0, calls)} order by received_at"
        )
    history = count_pushes(settings.duckdb_path)

    started = time.perf_counter()
    run_dbt(settings, ["parse"])
    startup_s = time.perf_counter() - started

    started = time.perf_counter()
    build_models(settings, full_refresh=True)
    full_s = time.perf_counter() - started
    full_models_s = model_seconds(settings)

    with duckdb.connect(str(settings.duckdb_path)) as connection:
        new_calls = int(calls * NEW_SHARE)
        connection.execute(
            f"insert into pbx55_raw.pushes {pushes_sql(calls, calls + new_calls)} "
            "order by received_at"
        )
    added = count_pushes(settings.duckdb_path) - history

    started = time.perf_counter()
    build_models(settings)
    incremental_s = time.perf_counter() - started
    incremental_models_s = model_seconds(settings)
    return history, startup_s, full_s, full_models_s, added, incremental_s, incremental_models_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="pbx55-bench-models-") as workdir:
            results.append(measure(size, Path(workdir)))
    print()
    header = ("history pushes", "new pushes", "full s", "incremental s", "ratio")
    print("whole build (wall clock), after a dbt start-up (import and parse) timed apart")
    print("{:>15} {:>11} {:>9} {:>14} {:>7} {:>10}".format(*header, "start-up s"))
    for history, startup_s, full_s, _, added, incremental_s, _ in results:
        ratio = incremental_s / full_s
        print(
            f"{history:>15,} {added:>11,} {full_s:>9.1f} {incremental_s:>14.1f} {ratio:>7.1%} "
            f"{startup_s:>10.1f}"
        )
    print("models only (dbt execution time of model nodes, summed)")
    print("{:>15} {:>11} {:>9} {:>14} {:>7}".format(*header))
    for history, _, _, full_models_s, added, _, incremental_models_s in results:
        ratio = incremental_models_s / full_models_s
        print(
            f"{history:>15,} {added:>11,} {full_models_s:>9.1f} "
            f"{incremental_models_s:>14.1f} {ratio:>7.1%}"
        )


if __name__ == "__main__":
    main()

"""From landing files to marts: the loader, the dbt runner, the BI copy and their Dagster wiring.

loader/            dlt: sealed landing files into `pbx55_raw` (knows nothing of Dagster)
dbt_runner.py      the one way dbt runs (CLI and Dagster)
bi_copy.py         the read-only serving copy of the marts for BI tools
warehouse_lock.py  one writer per warehouse
orchestration/     Dagster: assets, checks, sensor, schedule, resources
"""

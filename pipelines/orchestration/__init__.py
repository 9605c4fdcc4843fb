"""The Dagster wiring: assets, checks, sensor, schedule and resources in one `Definitions`.

definitions.py    the jobs, the schedule and `defs` (built lazily)
raw_assets.py     the load, raw retention and the landing-file sensor
dbt_assets.py     the dbt models as assets, tests as asset checks
serving_assets.py the BI serving copy and the daily report
resources.py      the resources and the single-writer tags
"""

"""The supervisor's daily report (report.py), its plots (plots.py) and the mart reads it shares
with the notebook (marts.py)."""

from pipelines.daily_report.report import write_daily_report

__all__ = ["write_daily_report"]

"""Pulls of the 55pbx report API into the raw schema, a day at a time (docs/contracts.md).

client.py   the HTTP calls (dlt's REST client: key header, time-out, retries with back-off, TLS)
answers.py  what an answer holds: its rows, every value as text, as the raw tables keep them
pull.py     the dlt source of one pull and `pull_report_days` / `load_report_days`, the entry points
"""

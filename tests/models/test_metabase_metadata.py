"""The column metadata dbt-metabase carries into Metabase: money, categories, hidden personal data.

dbt-metabase reads `metabase.*` keys of each column's `meta` in the manifest (the YAML sets them
under `config: {meta: ...}`, which dbt copies there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEMANTIC_TYPE = "metabase.semantic_type"
VISIBILITY = "metabase.visibility_type"


def _mart_columns(manifest: Path) -> dict[str, dict[str, dict[str, Any]]]:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        node["name"]: node["columns"]
        for node in nodes
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }


def test_money_is_currency_and_vocabularies_are_categories(dbt_manifest: Path) -> None:
    marts = _mart_columns(dbt_manifest)
    for table, money, categories in (
        ("fct_calls", {"cost", "tax_per_minute", "balance_after"}, {"outcome", "tariff_class"}),
        ("fct_journeys", {"total_cost"}, {"final_outcome", "journey_kind", "first_queue"}),
        ("kpi_daily", {"voice_cost", "sms_cost", "cost_per_call"}, {"central_id", "call_kind"}),
    ):
        meta = {name: column["meta"] for name, column in marts[table].items()}
        assert {name for name in money if meta[name].get(SEMANTIC_TYPE) != "type/Currency"} == set()
        assert {n for n in categories if meta[n].get(SEMANTIC_TYPE) != "type/Category"} == set()
    assert marts["kpi_daily"]["service_level"]["meta"][SEMANTIC_TYPE] == "type/Percentage"


def test_every_token_and_masked_number_is_hidden_from_questions(dbt_manifest: Path) -> None:
    personal = {
        (table, name): column["meta"].get(VISIBILITY)
        for table, columns in _mart_columns(dbt_manifest).items()
        for name, column in columns.items()
        if name.endswith(("_token", "_masked"))
    }
    assert ("fct_calls", "caller_token") in personal
    assert ("fct_calls", "caller_masked") in personal
    assert {key for key, visibility in personal.items() if visibility != "sensitive"} == set()

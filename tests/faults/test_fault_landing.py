"""Landing files the receiver never writes, or writes rarely: each push still loads once.

A sealed file copied under another name (a restore from backup, a hand copy), a line written
twice (in one file, or in files of different batches of one load: the loader appends only pushes
that neither the warehouse nor an earlier batch holds), pushes with a NUL character in a value
(Postgres text cannot hold one), and pushes with no field the loader knows. The last two must
also leave `pbx55 build` working.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import pipelines.loader.load
from tests.faults.fault_checks import load, verify
from tests.faults.fault_landing import Landing, mixed_in, simulated_bodies
from tests.faults.fault_matrix import MatrixRow
from tests.faults.fault_warehouse import Warehouse


@pytest.mark.fault_scenario("sealed file copied under another name, {when}")
@pytest.mark.parametrize("when", ["in-the-same-load", "after-it-was-loaded"])
def test_a_copied_sealed_file_loads_its_pushes_once(
    warehouse: Warehouse, when: str, matrix_row: MatrixRow
) -> None:
    landing = Landing(warehouse.settings)
    files = landing.seal_in_files(landing.simulated_lines())
    if when == "after-it-was-loaded":
        load(warehouse, matrix_row, what="the load before the copy")
    copy = landing.copy_under_new_name(files[1])
    assert copy.read_bytes() == files[1].read_bytes()

    load(warehouse, matrix_row)

    verify(warehouse, matrix_row)


@pytest.mark.fault_scenario("lines written twice in one file")
def test_duplicated_lines_load_their_pushes_once(
    warehouse: Warehouse, matrix_row: MatrixRow
) -> None:
    landing = Landing(warehouse.settings)
    lines = landing.simulated_lines()
    files = landing.seal_in_files(lines)
    damaged = files[2].read_bytes().splitlines(keepends=True)
    # The 4th line again after the 5th, and the first again at the end.
    files[2].write_bytes(b"".join([*damaged[:5], damaged[3], *damaged[5:], damaged[0]]))

    load(warehouse, matrix_row)

    verify(warehouse, matrix_row)


@pytest.mark.fault_scenario("a file's lines again in other batches of the same load")
def test_lines_repeated_in_other_batches_of_one_load_load_their_pushes_once(
    warehouse: Warehouse, matrix_row: MatrixRow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipelines.loader.load, "BATCH_BYTES", 1)  # every file a batch of its own
    landing = Landing(warehouse.settings)
    files = landing.seal_in_files(landing.simulated_lines())
    landing.copy_under_new_name(files[0])  # typed while the batch of files[0] may still be
    lines = files[1].read_bytes().splitlines(keepends=True)
    # The first line of files[1] again in the last file, and in a file of its own after it.
    files[-1].write_bytes(files[-1].read_bytes() + lines[0])
    landing.seal([lines[0]])

    load(warehouse, matrix_row)

    verify(warehouse, matrix_row)


def json_bodies(count: int) -> list[dict[str, Any]]:
    """Bodies of `count` simulated pushes sent as plain JSON objects, spread over the day."""
    bodies = []
    for raw, _, _ in simulated_bodies():
        try:
            body = json.loads(raw)
        except ValueError:
            continue
        if isinstance(body, dict) and "call_id" in body:
            bodies.append(body)
    step = max(1, len(bodies) // count)
    return bodies[::step][:count]


# A NUL wherever a 55pbx value can be: text fields, the caller's number (tokenised by the
# loader), typed fields, the date, unknown fields (nested too) and an unknown field's name.
NUL_VALUES: list[tuple[str, Any]] = [
    ("call_queue", "Suporte\u0000"),
    ("call_status", "\u0000"),
    ("call_number", "11\u000098765432"),
    ("call_document", "123\u0000456"),
    ("branch_email", "agente\u0000@example.com"),
    ("call_url_audio", "https://gravacoes.example/\u0000.mp3"),
    ("call_time", "0:01:\u000005"),
    ("call_cost", "0,5\u00008"),
    ("call_date", "2026-11-26 14:00:00\u0000"),
    ("observacao", "linha\u0000dois"),
    ("detalhes", {"nota": "a\u0000b", "lista": ["\u0000"]}),
    ("campo\u0000estranho", "x"),
]


@pytest.mark.fault_scenario("pushes with a NUL in a value")
def test_pushes_with_a_nul_load_once_and_build(warehouse: Warehouse, matrix_row: MatrixRow) -> None:
    landing = Landing(warehouse.settings)
    normal = landing.simulated_lines()
    odd = [
        landing.line_for_body(body | {field: value})
        for body, (field, value) in zip(json_bodies(len(NUL_VALUES)), NUL_VALUES, strict=True)
    ]
    assert all(b"\\u0000" in line for line in odd)  # landed as the receiver lands it
    landing.seal_in_files(mixed_in(normal, odd))

    load(warehouse, matrix_row)

    verify(warehouse, matrix_row, build=True)


@pytest.mark.fault_scenario("pushes with no known field ({{}})")
def test_pushes_without_known_fields_load_once_and_build(
    warehouse: Warehouse, matrix_row: MatrixRow
) -> None:
    landing = Landing(warehouse.settings)
    normal = landing.simulated_lines()
    odd = [landing.line_for_body(body) for body in ({}, {}, {}, {"campo_novo": 1}, {}, {"x": None})]
    landing.seal_in_files(mixed_in(normal, odd))

    load(warehouse, matrix_row)

    verify(warehouse, matrix_row, build=True)

"""`load_landed_pushes`: each sealed file exactly once, whatever the order files are sealed in."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil

import duckdb
import pytest

import pipelines.loader.load
from foundation.landing.layout import open_file_name, sealed_landing_files, sealed_path
from foundation.settings import Settings
from pipelines.loader.load import landed_pushes, load_landed_pushes, raw_pipeline
from pipelines.loader.personal_data import MissingPiiKeyError
from tests.pipelines.landing_writer import query


def pushes(settings: Settings) -> list[tuple]:
    return query(settings, "SELECT push_id, source_file, line_number FROM pbx55_raw.pushes")


def test_loading_twice_adds_nothing(settings: Settings, land_file) -> None:
    land_file([{"call_id": "1"}, {"call_id": "2"}])
    land_file([{"call_id": "3"}])

    first = load_landed_pushes(settings)
    rows = pushes(settings)
    second = load_landed_pushes(settings)

    assert (first.files, first.rows) == (2, 3)
    assert (second.files, second.rows) == (0, 0)
    assert sorted(pushes(settings)) == sorted(rows)
    assert len({push_id for push_id, _, _ in rows}) == 3
    assert "3 pushes from 2 files" in str(first)
    assert query(settings, "SELECT count(*), sum(row_count) FROM pbx55_raw.loaded_files") == [
        (2, 3)
    ]


def test_open_files_are_skipped_until_sealed(settings: Settings, land_file) -> None:
    open_path = land_file([{"call_id": "1"}], sealed=False)

    assert load_landed_pushes(settings).rows == 0
    open_path.rename(sealed_path(open_path))  # the receiver seals it
    assert load_landed_pushes(settings).rows == 1
    assert load_landed_pushes(settings).rows == 0


def test_a_file_sealed_late_with_an_old_mtime_and_partition_is_loaded_once(
    settings: Settings, land_file
) -> None:
    land_file([{"call_id": "new"}])
    load_landed_pushes(settings)

    # After a crash the receiver seals yesterday's leftover: older name, older mtime.
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    late = land_file([{"call_id": "late"}], received_at=yesterday)
    old = (yesterday - dt.timedelta(hours=1)).timestamp()
    os.utime(late, (old, old))

    assert load_landed_pushes(settings).rows == 1
    assert load_landed_pushes(settings).rows == 0
    assert len(pushes(settings)) == 2


def test_a_file_sealed_during_a_load_is_loaded_by_the_next_run_exactly_once(
    settings: Settings, land_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    land_file([{"call_id": "before"}])
    sealed_during_load = []

    def list_then_seal_another(*args):
        listed = sealed_landing_files(*args)
        if not sealed_during_load:
            sealed_during_load.append(land_file([{"call_id": "during"}]))
        return listed

    monkeypatch.setattr(pipelines.loader.load, "sealed_landing_files", list_then_seal_another)

    assert load_landed_pushes(settings).rows == 1
    assert load_landed_pushes(settings).rows == 1
    assert load_landed_pushes(settings).rows == 0
    call_ids = query(settings, "SELECT call_id FROM pbx55_raw.pushes ORDER BY call_id")
    assert call_ids == [("before",), ("during",)]


def test_an_empty_sealed_file_is_recorded_and_not_read_again(settings: Settings, land_file) -> None:
    empty = land_file([{"call_id": "1"}])
    empty.write_text("")

    assert load_landed_pushes(settings).files == 1
    assert load_landed_pushes(settings).files == 0


def test_the_duckdb_file_is_the_configured_one(
    settings: Settings, land_file, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    land_file()
    load_landed_pushes(settings)

    assert settings.duckdb_path.is_file()
    assert not list(tmp_path.glob("*.duckdb"))


def test_a_missing_pii_key_fails_with_a_clear_message(env: dict[str, str], land_file) -> None:
    land_file()
    settings = Settings.from_env({k: v for k, v in env.items() if k != "PBX55_PII_KEY"})

    with pytest.raises(MissingPiiKeyError, match="PBX55_PII_KEY is not set"):
        load_landed_pushes(settings)


def test_an_interrupted_load_is_redone_from_the_landing_files_once(
    settings: Settings, land_file
) -> None:
    land_file([{"call_id": "0"}])
    load_landed_pushes(settings)
    land_file([{"call_id": "1"}, {"call_id": "2"}])
    interrupted = raw_pipeline(settings)
    interrupted.extract(landed_pushes(settings))
    interrupted.normalize()  # the process dies before the load step
    land_file([{"call_id": "3"}])

    summary = load_landed_pushes(settings)

    assert summary.rows == 3  # the interrupted package was thrown away: its files load anew
    call_ids = query(settings, "SELECT call_id FROM pbx55_raw.pushes ORDER BY call_id")
    assert call_ids == [("0",), ("1",), ("2",), ("3",)]
    assert load_landed_pushes(settings).rows == 0


def test_malformed_lines_are_set_aside_and_every_good_line_is_loaded(
    settings: Settings, land_file, caplog: pytest.LogCaptureFixture
) -> None:
    land_file([{"call_id": "a"}, {"call_id": "b"}, {"call_id": "c"}])
    damaged = land_file([{"call_id": "d"}, {"call_id": "e"}])
    ruined = land_file([{"call_id": "f"}])
    phone = "21987654321"
    good_first, good_last = damaged.read_text().splitlines()
    bad_lines = [
        '{"push_id": "torn", "body": {"call_number": "' + phone,
        "[1, 2]",
        json.dumps({"received_at": "2026-11-26T17:00:00Z", "body": {"call_number": phone}}),
        json.dumps({"push_id": "when", "received_at": "yesterday", "body": {}}),
        json.dumps({"push_id": "form", "received_at": "2026-11-26T17:00:00Z", "body": "a=1"}),
    ]
    damaged.write_bytes("\n".join([good_first, *bad_lines, good_last]).encode() + b"\n\xff\xfe{}\n")
    ruined.write_text("not json at all\n")

    with caplog.at_level(logging.INFO):
        summary = load_landed_pushes(settings)

    loaded = query(
        settings, "SELECT call_id, line_number FROM pbx55_raw.pushes ORDER BY source_file, call_id"
    )
    assert loaded == [("a", 1), ("b", 2), ("c", 3), ("d", 1), ("e", 7)]
    assert (summary.files, summary.malformed_lines) == (3, 7)
    assert "7 malformed lines set aside in landing/quarantine/" in str(summary)
    files = query(
        settings,
        "SELECT row_count, malformed_line_count FROM pbx55_raw.loaded_files ORDER BY source_file",
    )
    assert files == [(3, 0), (2, 6), (0, 1)]
    quarantined = [
        json.loads(line)
        for path in sorted(settings.quarantine_dir.rglob("*.malformed-lines.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert [(line["line_number"], line["problem"].split(" (")[0]) for line in quarantined] == [
        (2, "not JSON"),
        (3, "not a JSON object"),
        (4, "no push_id"),
        (5, "no valid received_at"),
        (6, "body is not an object"),
        (8, "not UTF-8"),
        (1, "not JSON"),
    ]
    assert quarantined[0]["line"] == bad_lines[0]  # kept exactly, for a human to repair
    assert phone not in caplog.text
    assert "lines 2, 3, 4, 5, 6, 8" in caplog.text
    assert load_landed_pushes(settings).rows == 0


def test_many_batches_typed_in_parallel_keep_every_line_and_its_number(
    settings: Settings, land_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipelines.loader.load, "BATCH_BYTES", 1)  # one file per batch
    sizes = [3, 1, 4, 1, 5, 9, 2]
    for file_index, size in enumerate(sizes):
        land_file([{"call_id": f"{file_index}-{line}"} for line in range(1, size + 1)])

    summary = load_landed_pushes(settings)

    assert (summary.files, summary.rows) == (len(sizes), sum(sizes))
    rows = query(settings, "SELECT call_id, line_number FROM pbx55_raw.pushes")
    assert sorted(rows) == sorted(
        (f"{file_index}-{line}", line)
        for file_index, size in enumerate(sizes)
        for line in range(1, size + 1)
    )
    assert query(settings, "SELECT row_count FROM pbx55_raw.loaded_files ORDER BY source_file") == [
        (size,) for size in sizes
    ]


def test_a_copied_file_and_a_duplicated_line_leave_one_row_per_push(
    settings: Settings, land_file
) -> None:
    original = land_file([{"call_id": "1"}, {"call_id": "2"}])
    load_landed_pushes(settings)
    # Restored from a backup under another name, and a line written twice by a hand edit.
    restored = sealed_path(original.with_name(open_file_name("restored", 1)))
    restored.write_bytes(original.read_bytes())
    lines = original.read_bytes().splitlines(keepends=True)
    land_file(lines=[lines[0], lines[0]])

    summary = load_landed_pushes(settings)

    assert summary.files == 2
    assert query(settings, "SELECT count(*), count(DISTINCT push_id) FROM pbx55_raw.pushes") == [
        (2, 2)
    ]
    assert query(settings, "SELECT count(*) FROM pbx55_raw.loaded_files") == [(3,)]


def test_a_ledger_row_of_an_unfinished_load_does_not_count_as_loaded(
    settings: Settings, land_file
) -> None:
    land_file([{"call_id": "1"}, {"call_id": "2"}])
    load_landed_pushes(settings)
    # What a load killed after its ledger commit and before its pushes commit leaves behind,
    # once its working directory is gone too: the ledger names the file, the rows are missing.
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute("DELETE FROM pbx55_raw.pushes")
        warehouse.execute("DELETE FROM pbx55_raw._dlt_loads")
    shutil.rmtree(settings.data_dir / "dlt_pipelines")

    summary = load_landed_pushes(settings)

    assert (summary.files, summary.rows) == (1, 2)
    assert query(settings, "SELECT count(DISTINCT push_id) FROM pbx55_raw.pushes") == [(2,)]
    assert query(settings, "SELECT count(*) FROM pbx55_raw.loaded_files") == [(1,)]


def test_a_ledger_from_before_the_completeness_check_is_loaded_once_more(
    settings: Settings, land_file
) -> None:
    land_file([{"call_id": "1"}, {"call_id": "2"}])
    [landed] = sealed_landing_files(settings.landing_dir, settings.pushes_dir)
    # An earlier version's ledger: no load id, so nothing says its loads were complete.
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute("CREATE SCHEMA pbx55_raw")
        warehouse.execute(
            """CREATE TABLE pbx55_raw.loaded_files (source_file VARCHAR, row_count BIGINT,
               malformed_line_count BIGINT, loaded_at TIMESTAMPTZ)"""
        )
        warehouse.execute(
            "INSERT INTO pbx55_raw.loaded_files VALUES (?, 2, 0, now())", [landed.source_file]
        )

    summary = load_landed_pushes(settings)

    assert (summary.files, summary.rows) == (1, 2)
    assert query(settings, "SELECT count(*) FROM pbx55_raw.loaded_files") == [(1,)]
    assert load_landed_pushes(settings).files == 0


def test_a_load_drops_the_staging_copy_of_pushes_left_by_merge_loads(
    settings: Settings, land_file
) -> None:
    land_file([{"call_id": "1"}])
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        # What loads left while pushes was a merge table: the last load's rows, staged.
        warehouse.execute("CREATE SCHEMA pbx55_raw_staging")
        warehouse.execute("CREATE TABLE pbx55_raw_staging.pushes AS SELECT 'p' AS push_id")

    load_landed_pushes(settings)

    assert query(
        settings,
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'pbx55_raw_staging'"
        " AND table_name = 'pushes'",
    ) == [(0,)]

"""A `pbx55 load` SIGKILLed at each stage of a load, then a normal load: every push once.

The killed load runs in a child process (fault_child.py) over four sealed files, one batch each.
After the kill the dlt working directory ($PBX55_DATA_DIR/dlt_pipelines) is either kept, as
after a crash, or lost, as after a redeploy on a fresh disk: the warehouse and the landing files
alone must decide what is left to load.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.faults.fault_checks import load, verify
from tests.faults.fault_child import KILL_POINTS
from tests.faults.fault_landing import Landing
from tests.faults.fault_matrix import MatrixRow
from tests.faults.fault_warehouse import Warehouse, observe, start_child, terminating

# The kill after which `pbx55 build` must also succeed: pushes in, ledger not, package lost.
BUILT_AFTER = {("pushes-committed", "lost")}


@pytest.mark.fault_scenario("kill {kill_at}, dlt dir {dlt_dir}")
@pytest.mark.parametrize("dlt_dir", ["kept", "lost"])
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_killed_load_then_a_normal_one_load_every_push_once(
    warehouse: Warehouse, kill_at: str, dlt_dir: str, matrix_row: MatrixRow, tmp_path: Path
) -> None:
    landing = Landing(warehouse.settings)
    landing.seal_in_files(landing.simulated_lines())

    child = start_child(warehouse, tmp_path / "killed-load", kill_at=kill_at)
    with terminating(child):
        returncode = child.wait()
    if child.killed_at() != kill_at or returncode != -signal.SIGKILL:
        matrix_row.result = "kill point not reached"
        matrix_row.symptom = child.describe()
        matrix_row.record(observe(warehouse))
        pytest.fail(f"the load was not killed at {kill_at}: {child.describe()}", pytrace=False)
    matrix_row.record_after_fault(observe(warehouse))
    if dlt_dir == "lost":
        shutil.rmtree(warehouse.settings.data_dir / "dlt_pipelines")

    load(warehouse, matrix_row, what="the load after the kill")

    verify(warehouse, matrix_row, build=(kill_at, dlt_dir) in BUILT_AFTER)

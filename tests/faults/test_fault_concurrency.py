"""Two `pbx55 load` processes at once over the same landing files: every push once.

The first load is held in the middle of its extract (after its first batch) until the second
one has started and either run into it or given up; only then is the first released. The second
either waits for the writer lock (PBX55_WRITER_LOCK_TIMEOUT_S long) or gives up at once and says
so in one line; either way no push is loaded twice and none is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.fault_checks import verify
from tests.faults.fault_landing import Landing
from tests.faults.fault_matrix import MatrixRow
from tests.faults.fault_warehouse import Child, Warehouse, observe, start_child, terminating

# How long the second load may run before the first is released, once it has started and not
# reached its own first batch: a load that waits for the lock gives no signal, so this is the
# only bounded wait of the suite (it is never what decides the test's outcome).
OVERLAP_S = 0.5
WAIT_S = 120
LOCK_TIMEOUT_S = {"waits": str(WAIT_S), "gives-up": "0.2"}


def wait_until(condition: Callable[[], bool], child: Child, *, timeout: float = WAIT_S) -> bool:
    """True once `condition` holds; False when `child` exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if child.process.poll() is not None or time.monotonic() > deadline:
            return condition()
        time.sleep(0.01)
    return True


@pytest.mark.fault_scenario("two loads at once, the second {second}")
@pytest.mark.parametrize("second", ["waits", "gives-up"])
def test_two_loads_at_once_load_every_push_once(
    warehouse: Warehouse, second: str, matrix_row: MatrixRow, tmp_path: Path
) -> None:
    landing = Landing(warehouse.settings)
    landing.seal_in_files(landing.simulated_lines())
    release = tmp_path / "release-first"
    env = warehouse.child_env(PBX55_WRITER_LOCK_TIMEOUT_S=LOCK_TIMEOUT_S[second])

    first = start_child(warehouse, tmp_path / "first", pause_at_first_batch=release, env=env)
    with terminating(first):
        assert wait_until(lambda: first.reached("paused"), first), first.describe()
        other = start_child(warehouse, tmp_path / "second", env=env)
        with terminating(other):
            assert wait_until(lambda: other.reached("started"), other), other.describe()
            if second == "waits":
                # Without a lock it reaches its own first batch alongside the held first load.
                wait_until(lambda: other.reached("first-batch"), other, timeout=OVERLAP_S)
            else:
                wait_until(lambda: False, other)  # until it gives up
            release.touch()
            first.wait()
            other.wait()

    problems = []
    if first.process.returncode != 0:
        problems.append(f"first load: {first.describe()}")
    stderr = other.output("stderr")
    if second == "waits" and other.process.returncode != 0:
        problems.append(f"second load did not wait: {other.describe()}")
    if second == "gives-up" and (other.process.returncode == 0 or "Traceback" in stderr):
        problems.append(f"second load did not give up in one line: {other.describe()}")
    if not problems:  # a note for the matrix: what the second load said
        said = stderr if second == "gives-up" else other.output("stdout")
        matrix_row.symptom = f"second said: {said.strip().splitlines()[-1:]}"
    if problems:
        matrix_row.record(observe(warehouse))
        matrix_row.symptom = "; ".join(problems)
        pytest.fail("; ".join(problems), pytrace=False)

    verify(warehouse, matrix_row)

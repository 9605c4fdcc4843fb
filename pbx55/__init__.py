"""pbx55: call analytics from 55pbx pushes. This package is the application on top:

cli.py               the `pbx55` command
demo.py              `pbx55 demo` (what `make demo` runs)
simulate.py          `pbx55 simulate`
receiver_process.py  `pbx55 serve` as a child process (the demo and tests)
dev.py               `make dev`: the Dagster UI and daemon
"""

__version__ = "0.1.0"

"""`pbx55 simulate`: send a realistic day of 55pbx pushes to a receiver and write the ground truth.

The day is compressed: pushes go out in the order the platform would send them, as fast as
`--rate` and `--concurrency` allow, while their `call_date` values describe the simulated day.
`--outage HH:MM-HH:MM` plays the receiver being down for that window of the simulated day: its
pushes are not sent (the receiver here is another process's), and the truth says which calls
lost what.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from foundation.settings import Settings

if TYPE_CHECKING:
    from simulator import Outage


def yesterday_in_sao_paulo() -> date:
    """A day that is over, in the time zone of the simulated call centre."""
    return (datetime.now(ZoneInfo("America/Sao_Paulo")) - timedelta(days=1)).date()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", required=True, help="receiver URL, e.g. http://127.0.0.1:8055/pushes"
    )
    parser.add_argument("--token", help="push token (default: the first of PBX55_TOKENS)")
    parser.add_argument("--seed", type=int, default=55, help="same seed, same day (default 55)")
    parser.add_argument("--calls", type=int, default=2000, help="contacts started in the day")
    parser.add_argument("--agents", type=int, help="agents in all centrals (default calls/80)")
    parser.add_argument("--queues", type=int, default=3, help="queues per central (default 3)")
    parser.add_argument("--centrals", type=int, default=2, help="PBX customers (default 2)")
    parser.add_argument("--rate", type=float, help="at most this many pushes per second")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        help="simulated local day, YYYY-MM-DD (default: yesterday in America/Sao_Paulo)",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        help="ground truth JSONL (default: $PBX55_DATA_DIR/simulations/truth-<day>-<seed>.jsonl)",
    )
    parser.add_argument(
        "--outage",
        type=_outage,
        help="HH:MM-HH:MM of the simulated day in which the receiver is down: those pushes "
        "are lost (an end before the start is the next day)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _outage(text: str) -> Outage:
    from simulator import Outage

    try:
        return Outage.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: every `pbx55` command builds this parser, and only `simulate` needs aiohttp.
    from simulator import SimulationConfig, run_simulation

    if urlsplit(args.url).scheme not in ("http", "https"):
        print(f"pbx55 simulate: --url must be an http(s) URL, not {args.url!r}", file=sys.stderr)
        return 2
    token = args.token or (settings.tokens[0] if settings.tokens else None)
    if not token:
        print("pbx55 simulate: no token: pass --token or set PBX55_TOKENS", file=sys.stderr)
        return 2
    config = SimulationConfig(
        day=args.day or yesterday_in_sao_paulo(),
        calls=args.calls,
        seed=args.seed,
        agents=args.agents,
        queues=args.queues,
        centrals=args.centrals,
    )
    truth_path = args.truth or (
        settings.data_dir / "simulations" / f"truth-{config.day}-{config.seed}.jsonl"
    )
    report = run_simulation(
        config,
        url=args.url,
        token=token,
        truth_path=truth_path,
        rate=args.rate,
        concurrency=args.concurrency,
        progress=not args.no_progress,
        outage=args.outage,
    )
    print(report.summary())
    return 0 if report.rejected == 0 else 1

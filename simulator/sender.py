"""Deliver pushes to one receiver URL over HTTP, as the platform would: retry until acknowledged.

Only the given URL is ever contacted: redirects are not followed and proxy settings from the
environment are ignored. The pushes of one call go out one after another (the platform sends a
call's events in sequence); different calls go out concurrently, up to `concurrency` requests
in flight and `rate` requests per second.

An `Outage` is a window of the simulated day in which the receiver is down, so the pushes sent
in it are lost. With `take_down` and `bring_up` callbacks the receiver really goes down: every
push before the window is delivered, `take_down()` runs, the window's pushes are tried and fail
(the platform gives up after a few quick attempts), `bring_up()` runs and the rest is delivered.
Without them (a receiver this process does not control) the window's pushes are not sent.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from tqdm import tqdm

from simulator.pushes import Push

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 8
BACKOFF_S = 0.05
# While the receiver is down the platform's retries run out; a few quick ones keep the run short.
OUTAGE_ATTEMPTS = 3
OUTAGE_BACKOFF_S = 0.01
NOT_SENT = "not sent: the receiver was down (outage)"
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class Outage:
    """The receiver is down from `start_s` to `end_s`, in seconds since the simulated day's local
    midnight. `end_s` may pass 86400: a window over midnight ends the next morning."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s:
            raise ValueError("an outage ends after it starts, and starts at 00:00 or later")

    @classmethod
    def parse(cls, text: str) -> Outage:
        """`HH:MM-HH:MM` in local time; an end at or before the start is on the next day."""
        match = _WINDOW.fullmatch(text.strip())
        if not match:
            raise ValueError(f"an outage is HH:MM-HH:MM, not {text!r}")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        if max(start_h, end_h) > 23 or max(start_m, end_m) > 59:
            raise ValueError(f"an outage is HH:MM-HH:MM with hours 00-23, not {text!r}")
        start_s, end_s = start_h * 3600 + start_m * 60, end_h * 3600 + end_m * 60
        return cls(start_s, end_s if end_s > start_s else end_s + 86400)

    def covers(self, send_at: float) -> bool:
        return self.start_s <= send_at < self.end_s

    def __str__(self) -> str:
        def clock(seconds: float) -> str:
            minutes = int(seconds) // 60 % (24 * 60)
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return f"{clock(self.start_s)}-{clock(self.end_s)}"


@dataclass
class DeliveryResult:
    status: int | None = None  # last HTTP status; None when the receiver never answered
    push_id: str | None = None
    attempts: int = 0  # 0: never sent
    error: str | None = None
    in_outage: bool = False  # sent (or due) while the receiver was down

    @property
    def acknowledged(self) -> bool:
        return self.status == 200

    @property
    def lost_in_outage(self) -> bool:
        return self.in_outage and not self.acknowledged


@dataclass
class DeliveryReport:
    results: list[DeliveryResult]
    elapsed_s: float
    status_counts: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    outage: Outage | None = None

    @property
    def lost_in_outage(self) -> int:
        return sum(1 for result in self.results if result.lost_in_outage)


class _RateLimiter:
    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def _headers(push: Push, token: str) -> dict[str, str]:
    headers = {"Content-Type": push.content_type}
    if push.auth_style == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers[push.auth_style] = token  # "token" in any case, as the vendor document names it
    return headers


@dataclass(frozen=True)
class _Retries:
    attempts: int
    backoff_s: float


async def _deliver_one(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    push: Push,
    limiter: _RateLimiter,
    retries: _Retries,
) -> DeliveryResult:
    result = DeliveryResult()
    headers = _headers(push, token)
    while result.attempts < retries.attempts:
        result.attempts += 1
        await limiter.wait()
        try:
            async with session.request(
                push.method, url, data=push.body, headers=headers, allow_redirects=False
            ) as response:
                result.status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            result.status, result.error = None, f"{type(error).__name__}: {error}"
        else:
            result.error = None
            if result.status == 200:
                result.push_id = _push_id(text)
                return result
            if result.status not in RETRIED_STATUSES:
                result.error = text[:200]
                return result
        if result.attempts < retries.attempts:
            await asyncio.sleep(min(2.0, retries.backoff_s * 2**result.attempts))
    return result


def _push_id(response_text: str) -> str | None:
    try:
        answer = json.loads(response_text)
    except ValueError:
        return None
    return answer.get("push_id") if isinstance(answer, dict) else None


async def _deliver_all(
    url: str,
    token: str,
    pushes: Sequence[Push],
    indices: Sequence[int],
    *,
    limiter: _RateLimiter,
    concurrency: int,
    retries: _Retries,
    bar: tqdm,
) -> dict[int, DeliveryResult]:
    """Deliver `pushes[i]` for every i in `indices`, keeping each call's pushes in order."""
    results: dict[int, DeliveryResult] = {}
    done = {index: asyncio.Event() for index in indices}
    previous_of_same_leg: dict[int, int | None] = {}
    last_by_leg: dict[int, int] = {}
    for index in indices:
        leg = pushes[index].leg_index
        previous_of_same_leg[index] = last_by_leg.get(leg)
        last_by_leg[leg] = index
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in indices:
        queue.put_nowait(index)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            previous = previous_of_same_leg[index]
            if previous is not None:
                await done[previous].wait()
            results[index] = await _deliver_one(
                session, url, token, pushes[index], limiter, retries
            )
            done[index].set()
            bar.update()

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return results


def deliver(
    url: str,
    token: str,
    pushes: Sequence[Push],
    *,
    rate: float | None = None,
    concurrency: int = 16,
    progress: bool = True,
    outage: Outage | None = None,
    take_down: Callable[[], object] | None = None,
    bring_up: Callable[[], object] | None = None,
) -> DeliveryReport:
    """Deliver `pushes`; with an `outage`, lose those sent in its window (module docstring).

    `take_down` and `bring_up` come together or not at all, and only with an outage.
    """
    if (take_down is None) != (bring_up is None):
        raise ValueError("give both take_down and bring_up, or neither")
    if take_down is not None and outage is None:
        raise ValueError("take_down and bring_up need an outage")
    started = time.monotonic()
    limiter = _RateLimiter(rate)
    concurrency = max(1, concurrency)
    results: dict[int, DeliveryResult] = {}
    every_push = range(len(pushes))
    usual = _Retries(MAX_ATTEMPTS, BACKOFF_S)
    with tqdm(total=len(pushes), unit="push", desc="simulate", disable=not progress) as bar:

        def send(indices: Sequence[int], retries: _Retries = usual) -> None:
            results.update(
                asyncio.run(
                    _deliver_all(
                        url, token, pushes, indices,
                        limiter=limiter, concurrency=concurrency, retries=retries, bar=bar,
                    )
                )
            )  # fmt: skip

        if outage is None:
            send(every_push)
        else:
            window = [i for i in every_push if outage.covers(pushes[i].send_at)]
            send([i for i in every_push if pushes[i].send_at < outage.start_s])
            if take_down is not None and bring_up is not None:
                take_down()
                try:
                    send(window, _Retries(OUTAGE_ATTEMPTS, OUTAGE_BACKOFF_S))
                finally:
                    bring_up()
            else:
                results.update((i, DeliveryResult(error=NOT_SENT)) for i in window)
                bar.update(len(window))
            for index in window:
                results[index].in_outage = True
            send([i for i in every_push if pushes[i].send_at >= outage.end_s])
    ordered = [results[index] for index in every_push]
    status_counts: dict[str, int] = {}
    for result in ordered:
        if result.attempts == 0:
            key = "not sent"
        else:
            key = str(result.status) if result.status is not None else "no answer"
        status_counts[key] = status_counts.get(key, 0) + 1
    return DeliveryReport(
        results=ordered,
        elapsed_s=time.monotonic() - started,
        status_counts=dict(sorted(status_counts.items())),
        retries=sum(max(0, result.attempts - 1) for result in ordered),
        outage=outage,
    )

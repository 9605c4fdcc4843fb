"""Deliver pushes to one receiver URL over HTTP, as the platform would: retry until acknowledged.

Only the given URL is ever contacted: redirects are not followed and proxy settings from the
environment are ignored. The pushes of one call go out one after another (the platform sends a
call's events in sequence); different calls go out concurrently, up to `concurrency` requests
in flight and `rate` requests per second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
from tqdm import tqdm

from simulator.pushes import Push

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 8


@dataclass
class DeliveryResult:
    status: int | None = None  # last HTTP status; None when the receiver never answered
    push_id: str | None = None
    attempts: int = 0
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status == 200


@dataclass
class DeliveryReport:
    results: list[DeliveryResult]
    elapsed_s: float
    status_counts: dict[str, int] = field(default_factory=dict)
    retries: int = 0


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


async def _deliver_one(
    session: aiohttp.ClientSession, url: str, token: str, push: Push, limiter: _RateLimiter
) -> DeliveryResult:
    result = DeliveryResult()
    headers = _headers(push, token)
    while result.attempts < MAX_ATTEMPTS:
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
        await asyncio.sleep(min(2.0, 0.05 * 2**result.attempts))
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
    *,
    rate: float | None,
    concurrency: int,
    progress: bool,
) -> list[DeliveryResult]:
    results: list[DeliveryResult | None] = [None] * len(pushes)
    done = [asyncio.Event() for _ in pushes]
    previous_of_same_leg: list[int | None] = []
    last_by_leg: dict[int, int] = {}
    for index, push in enumerate(pushes):
        previous_of_same_leg.append(last_by_leg.get(push.leg_index))
        last_by_leg[push.leg_index] = index
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(pushes)):
        queue.put_nowait(index)
    limiter = _RateLimiter(rate)
    bar = tqdm(total=len(pushes), unit="push", desc="simulate", disable=not progress)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            previous = previous_of_same_leg[index]
            if previous is not None:
                await done[previous].wait()
            results[index] = await _deliver_one(session, url, token, pushes[index], limiter)
            done[index].set()
            bar.update()

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False
        ) as session:
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    finally:
        bar.close()
    return [result or DeliveryResult() for result in results]


def deliver(
    url: str,
    token: str,
    pushes: Sequence[Push],
    *,
    rate: float | None = None,
    concurrency: int = 16,
    progress: bool = True,
) -> DeliveryReport:
    started = time.monotonic()
    results = asyncio.run(
        _deliver_all(
            url, token, pushes, rate=rate, concurrency=max(1, concurrency), progress=progress
        )
    )
    status_counts: dict[str, int] = {}
    for result in results:
        key = str(result.status) if result.status is not None else "no answer"
        status_counts[key] = status_counts.get(key, 0) + 1
    return DeliveryReport(
        results=results,
        elapsed_s=time.monotonic() - started,
        status_counts=dict(sorted(status_counts.items())),
        retries=sum(max(0, result.attempts - 1) for result in results),
    )

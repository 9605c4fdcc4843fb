"""A day of a call centre, simulated call by call: who called, who answered, what it cost.

The model is a small discrete-event simulation, not a table of random outcomes: inbound callers
cross the IVR (some serve themselves there), join a FIFO queue served by the agents on shift
(overflowing to a staffed queue when theirs has nobody), and hang up when their patience runs
out; agents take their rostered breaks and lunch, and sometimes end the call themselves;
answered calls may be transferred to another queue (new legs, new call ids); agents dial
outbound calls and pay per billed minute; the platform sends SMS. `FloorRules` holds the
behaviour: its defaults are the realistic day, and a test can set a textbook queue instead
(Poisson arrivals, exponential talk and patience, no breaks) to compare with Erlang A.

Every number a test later checks in the warehouse (outcome, wait, talk, cost, balance, journey)
is decided here, before any push is rendered, so the ground truth never depends on what the
pipeline made of the pushes.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from heapq import heappop, heappush
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

# Every Brazilian area code (DDD) in use, as in ddd_uf.csv.
BRAZILIAN_DDDS = (
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74,
    75, 77, 79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
)  # fmt: skip

# Relative arrival intensity at the middle of each local hour (0..23), by day type; between
# midpoints it changes linearly, minute by minute. Weekdays have the two peaks of a Brazilian
# customer-service line, around 10:00 and 15:00, and the lunch dip between them.
ARRIVAL_CURVES = {
    "weekday": (1, 1, 0, 0, 0, 1, 3, 8, 17, 24, 27, 22, 14, 14, 20, 24, 20, 14, 9, 7, 5, 4, 3, 2),
    "saturday": (1, 0, 0, 0, 0, 1, 2, 6, 14, 18, 18, 16, 12, 8, 4, 3, 2, 2, 1, 1, 1, 1, 1, 1),
    "sunday": (1, 1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 5, 5, 5, 5, 4, 3, 3, 2, 2, 1, 1),
}
OUTBOUND_HOURS = (0,) * 9 + (6, 10, 10, 4, 5, 10, 10, 9, 6) + (0,) * 6  # dialling from 09 to 18
SMS_HOURS = (0,) * 8 + (3, 6, 6, 5, 4, 4, 5, 5, 4, 3, 2, 1) + (0,) * 4

# Shift starts (local hour, share of the team). Shifts last 8 h 20 min including lunch: most of
# the team covers both peaks, and the evening, a third as busy, keeps about a third of it.
SHIFTS = ((7, 0.15), (8, 0.25), (9, 0.20), (10, 0.10), (12, 0.15), (13, 0.15))
SHIFT_SECONDS = 8 * 3600 + 20 * 60
# The breaks of a shift: (earliest and latest start, hours into the shift; shortest and longest
# length, minutes). Two pauses of 10-15 min, as NR-17 Annex II gives telemarketing operators,
# and a lunch of an hour (CLT art. 71 for a working day over six hours). The starts spread over
# an hour or so, so that a team does not leave all at once.
BREAKS = (((1.75, 2.5), (10, 15)), ((3.5, 4.75), (60, 60)), ((6.25, 7.0), (10, 15)))

# Price per minute by Anatel tariff class (BRL), and per SMS.
TARIFF_PER_MINUTE = {
    "LOCAL": Decimal("0.09"),
    "VC1": Decimal("0.39"),
    "VC2": Decimal("0.58"),
    "VC3": Decimal("0.69"),
    "LDN": Decimal("0.19"),
}
SMS_TARIFF_TYPE = "SMS"
SMS_PRICE = Decimal("0.09")

QUEUE_NAMES = (
    "CREDITO_P1",
    "COBRANCA",
    "SUPORTE_TECNICO",
    "VENDAS",
    "SAC",
    "RETENCAO",
    "OUVIDORIA",
)
QUEUE_SHARES = (0.45, 0.25, 0.15, 0.07, 0.04, 0.03, 0.01)
FIRST_NAMES = ("ana", "bruno", "carla", "diego", "eduarda", "felipe", "gabriela", "heitor",
               "isabela", "joao", "karina", "lucas", "mariana", "nicolas", "olivia", "pedro",
               "rafaela", "samuel", "tatiane", "vinicius")  # fmt: skip
LAST_NAMES = ("silva", "santos", "oliveira", "souza", "lima", "pereira", "ferreira", "costa",
              "rodrigues", "almeida", "nascimento", "carvalho")  # fmt: skip
CENTRAL_HOME_DDDS = (11, 21, 31, 51, 41, 61, 71, 81)

MIX = {"inbound": 0.72, "outbound": 0.22, "sms": 0.06}
IVR_HANGUP_RATE = 0.05
# Callers who get what they want from the IVR menu's last option (a duplicate bill, a balance)
# and end the call there, without an agent: retained in the IVR, as the closed message is.
SELF_SERVICE_RATE = 0.04
TRANSFER_RATE = 0.08
SECOND_TRANSFER_RATE = 0.30
# Callers who hang up within the first seconds of queueing, whatever the wait would have been.
# Brown et al., "Statistical Analysis of a Telephone Call Center" (JASA 2005), found the hazard
# of abandoning peaks in the first seconds of the wait; the share itself is our assumption,
# chosen so that about a fifth of a default day's queue abandons are short (under 5 s).
SHORT_ABANDON_RATE = 0.03
# Answered calls the agent ends (the push's disconnection says `interno`), the rest the other
# party (`externo`). Agents are taught to let the customer hang up first; outbound agents, who
# close a call to dial the next, do so less. Our assumption, not a published figure.
AGENT_HANGS_UP_RATE = {"inbound": 0.12, "outbound": 0.30}
OUTBOUND_ANSWER_RATE = 0.58
RECORDING_RATE = 0.95
REPEAT_CALLER_RATE = 0.22
ANONYMOUS_CALLER_RATE = 0.02


@dataclass(frozen=True)
class LogNormal:
    """Seconds from a log-normal distribution with this median, clamped to [low, high]."""

    median: float
    sigma: float
    low: float = 0.0
    high: float = math.inf

    def draw(self, rng: random.Random) -> float:
        value = rng.lognormvariate(math.log(self.median), self.sigma)
        return min(self.high, max(self.low, value))


@dataclass(frozen=True)
class Exponential:
    """Seconds from an exponential distribution with this mean (the textbook queue's)."""

    mean: float

    def draw(self, rng: random.Random) -> float:
        return rng.expovariate(1 / self.mean)


@dataclass(frozen=True)
class FloorRules:
    """How callers and agents behave. The defaults are the realistic day."""

    inbound_curve: tuple[float, ...] | None = None  # per hour; None: ARRIVAL_CURVES[day type]
    mix: Mapping[str, float] = field(default_factory=lambda: MIX)
    shifts: tuple[tuple[int, float], ...] = SHIFTS
    breaks: bool = True
    ivr_hangup_rate: float = IVR_HANGUP_RATE
    self_service_rate: float = SELF_SERVICE_RATE
    transfer_rate: float = TRANSFER_RATE
    short_abandon_rate: float = SHORT_ABANDON_RATE
    patience: LogNormal | Exponential = LogNormal(median=75, sigma=0.9)
    talk: LogNormal | Exponential = LogNormal(median=180, sigma=0.7, low=12, high=3600)
    ring_seconds: tuple[float, float] = (2, 9)  # the agent's phone rings, the caller still waits
    wrap_up_seconds: tuple[float, float] = (5, 30)  # after an inbound call, before the next


@dataclass(frozen=True)
class SimulationConfig:
    day: date
    calls: int = 2000
    seed: int = 55
    agents: int | None = None  # None: one agent per 60 contacts of the day
    queues: int = 3
    centrals: int = 2
    floor: FloorRules = field(default_factory=FloorRules)

    @property
    def agent_count(self) -> int:
        return self.agents if self.agents is not None else max(4, round(self.calls / 60))


@dataclass
class Agent:
    branch_mask: int
    email: str
    shift_start: float  # seconds since local midnight
    queues: tuple[str, ...]
    breaks: tuple[tuple[float, float], ...] = ()  # rostered (start, seconds), in shift order
    breaks_taken: list[tuple[float, float]] = field(default_factory=list)  # (start, end)
    free_at: float = 0.0

    @property
    def shift_end(self) -> float:
        return self.shift_start + SHIFT_SECONDS

    def on_shift(self, at: float) -> bool:
        return self.shift_start <= at < self.shift_end

    def on_break(self, at: float) -> bool:
        """On a break by the roster (what routing goes by) or really (a late one)."""
        rostered = any(start <= at < start + length for start, length in self.breaks)
        return rostered or any(start <= at < end for start, end in self.breaks_taken)

    def next_start(self, at: float) -> tuple[float, list[tuple[float, float]]]:
        """When the agent can start a call offered at `at`, and the breaks taken before it.

        A break falls due at its rostered start; an agent on a call then takes it when the call
        (and its wrap-up) ends, and takes it whole.
        """
        start = max(self.free_at, self.shift_start, at)
        ready = self.free_at
        taken = []
        for planned, length in self.breaks[len(self.breaks_taken) :]:
            if start < planned:
                break
            ready = max(planned, ready) + length
            taken.append((ready - length, ready))
            start = max(start, ready)
        return start, taken

    def take_call(self, start: float, breaks_before: list[tuple[float, float]]) -> None:
        self.breaks_taken.extend(breaks_before)
        self.free_at = start


@dataclass
class Central:
    central_id: str
    home_ddd: int
    did: str
    language: str  # "en" sends receptive/active, "pt" receptivo/ativo
    queues: tuple[str, ...]
    queue_shares: tuple[float, ...]
    inbound_agents: list[Agent]
    outbound_agents: list[Agent]
    balance: Decimal
    next_sequence: int


@dataclass(frozen=True)
class Customer:
    ddd: int | None  # None for anonymous callers
    number: str  # national number with DDD, digits only; "" when anonymous
    is_mobile: bool
    document: str  # CPF (11 digits) or CNPJ (14 characters)


@dataclass
class Leg:
    """One call id: what the platform knows about it, and therefore what the warehouse should."""

    central: Central
    kind: str  # inbound, outbound, sms
    started_at: float  # seconds since local midnight of the simulated day
    customer: Customer
    outcome: str  # answered, abandoned_queue, abandoned_ivr, not_answered, sms
    call_id: str = ""
    ivr_seconds: int = 0
    ivr_option: int | None = None
    queue: str | None = None
    overflowed_from: str | None = None  # the queue chosen in the IVR, when it had nobody
    agent: Agent | None = None
    ring_seconds: int = 0
    wait_seconds: int = 0
    talk_seconds: int = 0
    duration_seconds: int = 0
    closed_ivr: bool = False  # the caller reached the IVR outside opening hours
    self_service: bool = False  # the caller's business ended in the IVR's self-service option
    hung_up_by: str = "caller"  # or "agent": who ended an answered call
    tax_type: str = ""
    tax_per_minute: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")
    balance_after: Decimal | None = None
    has_recording: bool = False
    order_number: str = ""
    transferred_from: Leg | None = None
    transferred_to: Leg | None = None
    final_push_lost: bool = False  # the platform never sends this leg's final push

    @property
    def ended_at(self) -> float:
        return self.started_at + self.duration_seconds

    @property
    def retained_in_ivr(self) -> bool:
        """The IVR ended the call on purpose (closed message, self-service): not an abandon."""
        return self.closed_ivr or self.self_service

    @property
    def queue_entered_at(self) -> float:
        return self.started_at + self.ivr_seconds

    @property
    def journey_root(self) -> Leg:
        leg = self
        while leg.transferred_from is not None:
            leg = leg.transferred_from
        return leg


@dataclass
class SimulatedDay:
    config: SimulationConfig
    centrals: list[Central]
    legs: list[Leg]  # ordered by central, then start time

    def local_datetime(self, seconds: float) -> datetime:
        midnight = datetime.combine(self.config.day, datetime.min.time(), tzinfo=SAO_PAULO)
        return midnight + timedelta(seconds=int(seconds))


def billed_seconds(talk_seconds: int) -> int:
    """Anatel VC billing: nothing for an unanswered call, 30 s minimum, then 6 s steps."""
    if talk_seconds <= 0:
        return 0
    return max(30, math.ceil(talk_seconds / 6) * 6)


def call_cost(talk_seconds: int, per_minute: Decimal) -> Decimal:
    minutes = Decimal(billed_seconds(talk_seconds)) / Decimal(60)
    return (per_minute * minutes).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def tariff_class(home_ddd: int, customer: Customer) -> str:
    """The Anatel class of a call from the central's fixed trunk to the customer's number."""
    if customer.ddd == home_ddd:
        return "VC1" if customer.is_mobile else "LOCAL"
    if not customer.is_mobile:
        return "LDN"
    return "VC2" if str(customer.ddd)[0] == str(home_ddd)[0] else "VC3"


def day_type(day: date) -> str:
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")


class _DaySimulator:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rules = config.floor
        self.rng = random.Random(f"pbx55-simulator:{config.seed}:model")
        self.customers: dict[str, list[Customer]] = {}
        self.legs: list[Leg] = []
        self.events: list[tuple[float, int, str, Leg]] = []
        self.event_sequence = itertools.count()

    def _schedule(self, at: float, stage: str, leg: Leg) -> None:
        heappush(self.events, (at, next(self.event_sequence), stage, leg))

    # ---- setting the scene ------------------------------------------------------------------

    def build_centrals(self) -> list[Central]:
        rng = self.rng
        count = max(1, min(self.config.centrals, len(CENTRAL_HOME_DDDS)))
        if self.config.calls < 100:
            count = 1  # a handful of calls spread over several centrals shows nothing
        shares = self._central_shares(count)
        total_agents = max(self.config.agent_count, 2 * count)
        centrals = []
        for index in range(count):
            central_id = str(1000 + 1047 * index + rng.randrange(0, 40))
            home_ddd = CENTRAL_HOME_DDDS[index]
            queue_count = max(1, min(self.config.queues, len(QUEUE_NAMES)))
            queues = tuple(
                f"{rng.randrange(1000, 10000)}-{QUEUE_NAMES[q]}" for q in range(queue_count)
            )
            weights = QUEUE_SHARES[:queue_count]
            queue_shares = tuple(w / sum(weights) for w in weights)
            agent_count = max(2, round(total_agents * shares[index]))
            outbound_agents, inbound_agents = self._build_agents(
                central_id, agent_count, queues, queue_shares
            )
            centrals.append(
                Central(
                    central_id=central_id,
                    home_ddd=home_ddd,
                    did=f"55{home_ddd}{rng.choice('34')}{rng.randrange(1000000, 10000000)}",
                    language="en" if index % 2 == 0 else "pt",
                    queues=queues,
                    queue_shares=queue_shares,
                    inbound_agents=inbound_agents,
                    outbound_agents=outbound_agents,
                    balance=Decimal(rng.randrange(1500, 6000)) + Decimal("0.37"),
                    next_sequence=rng.randrange(1000, 5000),
                )
            )
            self.customers[central_id] = []
        return centrals

    @staticmethod
    def _central_shares(count: int) -> list[float]:
        weights = [1.0 / (index + 1) ** 1.3 for index in range(count)]
        return [w / sum(weights) for w in weights]

    def _build_agents(
        self, central_id: str, count: int, queues: tuple[str, ...], shares: tuple[float, ...]
    ) -> tuple[list[Agent], list[Agent]]:
        """A fifth of the team dials out; the rest answer the queues."""
        rng = self.rng
        agents = []
        used_names: set[str] = set()
        base_extension = rng.choice((1000, 2000, 5000))
        outbound_count = max(1, round(count * 0.2))
        # Skills follow the traffic: the busiest queue gets the most agents, every queue at least
        # one; with fewer agents than queues everyone serves every queue.
        skills = self._assign_skills(count - outbound_count, queues, shares)
        queues_of = [()] * outbound_count + skills
        group_sizes = Counter(queues_of)
        seen_in_group: Counter[tuple[str, ...]] = Counter()
        for index, agent_queues in enumerate(queues_of):
            name = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
            while name in used_names:
                name = f"{name}{rng.randrange(2, 10)}"
            used_names.add(name)
            # Stratified over each skill group, as a roster is planned: every queue's agents
            # spread over the shifts in their shares, so no queue is left alone for an hour.
            quantile = (seen_in_group[agent_queues] + rng.random()) / group_sizes[agent_queues]
            seen_in_group[agent_queues] += 1
            shift_start = self._shift_hour(quantile) * 3600 + rng.choice((0, 0, 15 * 60, 30 * 60))
            agents.append(
                Agent(
                    branch_mask=base_extension + 100 + index,
                    email=f"{name}@central{central_id}.example.com.br",
                    shift_start=shift_start,
                    queues=agent_queues,
                    breaks=self._roster_breaks(shift_start) if self.rules.breaks else (),
                )
            )
        return agents[:outbound_count], agents[outbound_count:]

    def _shift_hour(self, quantile: float) -> int:
        shifts = self.rules.shifts
        total = sum(share for _, share in shifts)
        cumulative = 0.0
        for hour, share in shifts:
            cumulative += share / total
            if quantile < cumulative:
                return hour
        return shifts[-1][0]

    def _roster_breaks(self, shift_start: float) -> tuple[tuple[float, float], ...]:
        rng = self.rng
        return tuple(
            (shift_start + rng.uniform(*hours) * 3600, rng.randint(*minutes) * 60)
            for hours, minutes in BREAKS
        )

    @staticmethod
    def _assign_skills(
        agents: int, queues: tuple[str, ...], shares: tuple[float, ...]
    ) -> list[tuple[str, ...]]:
        if agents < len(queues):
            return [queues] * agents
        seats = [1] * len(queues)
        for _ in range(agents - len(queues)):
            # give the next agent to the queue with the most traffic per agent
            busiest = max(range(len(queues)), key=lambda q: shares[q] / seats[q])
            seats[busiest] += 1
        # The other queues' agents also take the main line's calls, their second skill.
        main = queues[0]
        return [
            (queue,) if queue == main else (queue, main)
            for queue, n in zip(queues, seats, strict=True)
            for _ in range(n)
        ]

    def customer_for(self, central: Central) -> Customer:
        """A caller or callee: sometimes someone who already called today (repeat callers)."""
        rng = self.rng
        known = self.customers[central.central_id]
        if known and rng.random() < REPEAT_CALLER_RATE:
            return rng.choice(known)
        if rng.random() < ANONYMOUS_CALLER_RATE:
            return Customer(ddd=None, number="", is_mobile=False, document="")
        roll = rng.random()
        if roll < 0.6:
            ddd = central.home_ddd
        elif roll < 0.75:
            ddd = rng.choice([d for d in BRAZILIAN_DDDS if str(d)[0] == str(central.home_ddd)[0]])
        else:
            ddd = rng.choice(BRAZILIAN_DDDS)
        is_mobile = rng.random() < 0.72
        if is_mobile:
            local = f"9{rng.randrange(6000, 10000)}{rng.randrange(0, 10000):04d}"
        else:
            local = f"{rng.randrange(2, 6)}{rng.randrange(100, 1000)}{rng.randrange(0, 10000):04d}"
        customer = Customer(
            ddd=ddd, number=f"{ddd}{local}", is_mobile=is_mobile, document=self._document()
        )
        known.append(customer)
        return customer

    def _document(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return ""  # did not type one in the IVR
        if roll < 0.88:
            return _cpf(rng)
        alphanumeric = self.config.day >= date(2026, 7, 1) and rng.random() < 0.3
        return _cnpj(rng, alphanumeric=alphanumeric)

    def arrival_times(self, count: int, curve: tuple[float, ...]) -> list[float]:
        """Arrivals at the curve's intensity, interpolated linearly between hour midpoints."""
        minutes = [_interpolated(curve, (minute + 0.5) / 60) for minute in range(24 * 60)]
        chosen = self.rng.choices(range(24 * 60), weights=minutes, k=count)
        return sorted(minute * 60 + self.rng.uniform(0, 60) for minute in chosen)

    # ---- the day ----------------------------------------------------------------------------

    def run(self) -> SimulatedDay:
        centrals = self.build_centrals()
        central_shares = self._central_shares(len(centrals))
        rng = self.rng
        mix = self.rules.mix
        kinds = rng.choices(list(mix), weights=list(mix.values()), k=self.config.calls)
        counts = {kind: kinds.count(kind) for kind in MIX}
        curve = self.rules.inbound_curve or ARRIVAL_CURVES[day_type(self.config.day)]

        for arrival in self.arrival_times(counts["inbound"], curve):
            central = rng.choices(centrals, weights=central_shares)[0]
            leg = self._new_inbound(central, arrival)
            self._schedule(arrival, "ivr", leg)
            self.legs.append(leg)
        # Events run in time order so that queues are served first come, first served.
        while self.events:
            at, _, stage, leg = heappop(self.events)
            if stage == "ivr":
                self._cross_ivr(leg)
            else:
                self._queue(leg, at)

        for dialled_at in self.arrival_times(counts["outbound"], OUTBOUND_HOURS):
            self._outbound(rng.choices(centrals, weights=central_shares)[0], dialled_at)
        for sent_at in self.arrival_times(counts["sms"], SMS_HOURS):
            self._sms(rng.choices(centrals, weights=central_shares)[0], sent_at)

        self._lose_some_final_pushes()
        self._charge_in_end_order()
        self._assign_call_ids(centrals)
        self.legs.sort(key=lambda leg: (leg.central.central_id, leg.started_at, leg.call_id))
        return SimulatedDay(config=self.config, centrals=centrals, legs=self.legs)

    def _new_inbound(self, central: Central, arrival: float) -> Leg:
        return Leg(
            central=central,
            kind="inbound",
            started_at=arrival,
            customer=self.customer_for(central),
            outcome="abandoned_ivr",
        )

    def _cross_ivr(self, leg: Leg) -> None:
        rng = self.rng
        central = leg.central
        leg.ivr_seconds = int(rng.uniform(8, 55))
        if not any(a.on_shift(leg.queue_entered_at) for a in central.inbound_agents):
            # outside opening hours the IVR plays the closed message and hangs up
            leg.closed_ivr = True
            leg.ivr_seconds = int(rng.uniform(15, 40))
            leg.duration_seconds = leg.ivr_seconds
            return
        if rng.random() < self.rules.ivr_hangup_rate:
            leg.ivr_seconds = int(rng.uniform(3, leg.ivr_seconds))
            leg.duration_seconds = leg.ivr_seconds
            return
        if rng.random() < self.rules.self_service_rate:
            leg.self_service = True
            leg.ivr_option = len(central.queues) + 1  # the menu's last option
            leg.ivr_seconds += int(rng.uniform(30, 150))
            leg.duration_seconds = leg.ivr_seconds
            return
        option = rng.choices(range(len(central.queues)), weights=central.queue_shares)[0]
        leg.ivr_option = option + 1
        chosen = central.queues[option]
        leg.queue = self._route(central, chosen, leg.queue_entered_at, central.queues)
        if leg.queue != chosen:
            leg.overflowed_from = chosen
        if rng.random() < 0.2:
            leg.order_number = str(rng.randrange(100000, 1000000))
        self._schedule(leg.queue_entered_at, "queue", leg)

    @staticmethod
    def _route(central: Central, chosen: str, at: float, candidates: Sequence[str]) -> str | None:
        """The queue a call for `chosen` joins at `at`: `chosen` itself while one of its agents is
        on duty (on shift, not on a break); else it overflows to the candidate with the most
        agents on duty, then on shift, `chosen` and then the IVR menu's order breaking ties.
        None when no candidate has an agent on shift."""

        def staffing(queue: str) -> tuple[int, int, bool]:
            skilled = [a for a in central.inbound_agents if queue in a.queues and a.on_shift(at)]
            return sum(not a.on_break(at) for a in skilled), len(skilled), queue == chosen

        if chosen in candidates and staffing(chosen)[0]:
            return chosen
        best = max(candidates, key=staffing, default=None)
        return best if best is not None and staffing(best)[1] else None

    def _queue(self, leg: Leg, entered_at: float) -> None:
        """FIFO service: the caller takes the agent who frees up first, unless patience ends."""
        rng = self.rng
        rules = self.rules
        pool = [a for a in leg.central.inbound_agents if leg.queue in a.queues]
        if rng.random() < rules.short_abandon_rate:
            patience = rng.uniform(0.5, 5)
        else:
            patience = rules.patience.draw(rng)
        best_agent, answer_at, breaks_before = None, math.inf, []
        for agent in pool:
            start, breaks = agent.next_start(entered_at)
            if start < agent.shift_end and start < answer_at:
                best_agent, answer_at, breaks_before = agent, start, breaks
        ring = rng.uniform(*rules.ring_seconds)
        if best_agent is None or answer_at + ring - entered_at > patience:
            leg.outcome = "abandoned_queue"
            leg.wait_seconds = int(patience)
            leg.duration_seconds = leg.ivr_seconds + leg.wait_seconds
            return
        talk = rules.talk.draw(rng)
        leg.outcome = "answered"
        leg.agent = best_agent
        leg.ring_seconds = int(ring)
        leg.wait_seconds = int(answer_at + ring - entered_at)
        leg.talk_seconds = int(talk)
        leg.duration_seconds = leg.ivr_seconds + leg.wait_seconds + leg.talk_seconds
        leg.has_recording = rng.random() < RECORDING_RATE
        if rng.random() < AGENT_HANGS_UP_RATE["inbound"]:
            leg.hung_up_by = "agent"
        # Busy from the first ring to the end of the wrap-up; whole seconds are only what the
        # platform reports, so the agent's time is kept exact (the textbook queue needs it).
        wrap_up = rng.uniform(*rules.wrap_up_seconds)
        best_agent.take_call(answer_at + ring + talk + wrap_up, breaks_before)
        self._maybe_transfer(leg)

    def _maybe_transfer(self, leg: Leg) -> None:
        rng = self.rng
        depth = len(self._chain_before(leg)) + 1
        rate = self.rules.transfer_rate if depth == 1 else SECOND_TRANSFER_RATE if depth == 2 else 0
        others = [q for q in leg.central.queues if q != leg.queue]
        if not others or rng.random() >= rate:
            return
        started_at = leg.ended_at + rng.choice((0, 1, 1, 2))
        # the agent picks a queue, and the transfer lands in one that has someone on shift
        queue = self._route(leg.central, rng.choice(others), started_at, others)
        if queue is None:
            return
        transfer_leg = Leg(
            central=leg.central,
            kind="inbound",
            started_at=started_at,
            customer=leg.customer,
            outcome="abandoned_queue",
            ivr_option=leg.ivr_option,
            queue=queue,
            order_number=leg.order_number,
            transferred_from=leg,
        )
        leg.transferred_to = transfer_leg
        self.legs.append(transfer_leg)
        self._schedule(transfer_leg.started_at, "queue", transfer_leg)

    @staticmethod
    def _chain_before(leg: Leg) -> list[Leg]:
        chain = []
        while leg.transferred_from is not None:
            leg = leg.transferred_from
            chain.append(leg)
        return chain

    def _outbound(self, central: Central, planned_at: float) -> None:
        rng = self.rng
        agent, (dialled_at, breaks_before) = min(
            ((a, a.next_start(planned_at)) for a in central.outbound_agents),
            key=lambda candidate: candidate[1][0],
        )
        customer = self.customer_for(central)
        while not customer.number:  # nobody dials an anonymous number
            customer = self.customer_for(central)
        ring = int(rng.uniform(4, 32))
        leg = Leg(
            central=central,
            kind="outbound",
            started_at=dialled_at,
            customer=customer,
            outcome="not_answered",
            agent=agent,
            tax_type=tariff_class(central.home_ddd, customer),
        )
        leg.tax_per_minute = TARIFF_PER_MINUTE[leg.tax_type]
        if rng.random() < OUTBOUND_ANSWER_RATE:
            leg.outcome = "answered"
            leg.talk_seconds = int(min(2400, max(4, rng.lognormvariate(math.log(110), 0.8))))
            leg.has_recording = rng.random() < RECORDING_RATE
            if rng.random() < AGENT_HANGS_UP_RATE["outbound"]:
                leg.hung_up_by = "agent"
        leg.duration_seconds = ring + leg.talk_seconds
        leg.cost = call_cost(leg.talk_seconds, leg.tax_per_minute)
        agent.take_call(leg.ended_at + rng.uniform(10, 40), breaks_before)
        self.legs.append(leg)

    def _sms(self, central: Central, sent_at: float) -> None:
        customer = self.customer_for(central)
        while not customer.is_mobile:  # an SMS goes to a mobile number
            customer = self.customer_for(central)
        self.legs.append(
            Leg(
                central=central,
                kind="sms",
                started_at=sent_at,
                customer=customer,
                outcome="sms",
                tax_type=SMS_TARIFF_TYPE,
                tax_per_minute=SMS_PRICE,
                cost=SMS_PRICE,
            )
        )

    def _lose_some_final_pushes(self) -> None:
        """About 2% of simple calls never get a final push (the vendor's delivery just stops).

        Transfer legs keep theirs: losing one would also lose the link of the journey, which
        makes the truth depend on a pipeline rule rather than on the call.
        """
        for leg in self.legs:
            simple = leg.transferred_from is None and leg.transferred_to is None
            if simple and leg.kind != "sms" and self.rng.random() < 0.02:
                leg.final_push_lost = True

    def _charge_in_end_order(self) -> None:
        """The platform debits each call when it ends; every final push reports the balance."""
        for leg in sorted(self.legs, key=lambda leg: (leg.ended_at, leg.started_at)):
            leg.central.balance -= leg.cost
            leg.balance_after = leg.central.balance

    def _assign_call_ids(self, centrals: list[Central]) -> None:
        """Asterisk-style ids: epoch seconds of the start, a dot, the central's channel counter."""
        by_central = {c.central_id: [] for c in centrals}
        for leg in self.legs:
            by_central[leg.central.central_id].append(leg)
        midnight = datetime.combine(self.config.day, datetime.min.time(), tzinfo=SAO_PAULO)
        epoch_midnight = int(midnight.timestamp())
        for central in centrals:
            for leg in sorted(by_central[central.central_id], key=lambda leg: leg.started_at):
                central.next_sequence += self.rng.randrange(1, 5)  # other channels take ids too
                leg.call_id = f"{epoch_midnight + int(leg.started_at)}.{central.next_sequence}"


def _interpolated(curve: Sequence[float], hour: float) -> float:
    """The curve's value at `hour` (0..24), linear between the middles of its hours."""
    position = min(max(hour - 0.5, 0), len(curve) - 1)
    below = int(position)
    above = min(below + 1, len(curve) - 1)
    return curve[below] + (curve[above] - curve[below]) * (position - below)


def _cpf(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append((total * 10 % 11) % 10)
    return "".join(map(str, digits))


def _cnpj(rng: random.Random, *, alphanumeric: bool) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if alphanumeric else "0123456789"
    base = [rng.choice(alphabet) for _ in range(8)] + list("0001")
    values = [ord(c) - 48 for c in base]  # the 2026 rule: ASCII code minus 48, digits unchanged
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        check = 0 if remainder < 2 else 11 - remainder
        values.append(check)
        base.append(str(check))
    return "".join(base)


def simulate_day(config: SimulationConfig) -> SimulatedDay:
    return _DaySimulator(config).run()

"""A day of a call centre, simulated call by call: who called, who answered, what it cost.

The model is a small discrete-event simulation, not a table of random outcomes: inbound callers
cross the IVR, join a FIFO queue served by the agents on shift, and hang up when their patience
runs out; answered calls may be transferred to another queue (new legs, new call ids); agents
dial outbound calls and pay per billed minute; the platform sends SMS. Every number a test later
checks in the warehouse (outcome, wait, talk, cost, balance, journey) is decided here, before any
push is rendered, so the ground truth never depends on what the pipeline made of the pushes.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
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

# Share of the day's contacts arriving in each local hour (0..23), by day type. Weekdays have the
# morning peak, the lunch dip and the long afternoon plateau of a Brazilian customer-service line.
ARRIVAL_CURVES = {
    "weekday": (1, 1, 0, 0, 0, 1, 3, 8, 17, 22, 24, 21, 14, 15, 20, 21, 19, 15, 10, 7, 5, 4, 3, 2),
    "saturday": (1, 0, 0, 0, 0, 1, 2, 6, 14, 18, 18, 16, 12, 8, 4, 3, 2, 2, 1, 1, 1, 1, 1, 1),
    "sunday": (1, 1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 5, 5, 5, 5, 4, 3, 3, 2, 2, 1, 1),
}
OUTBOUND_HOURS = (0,) * 9 + (6, 10, 10, 4, 5, 10, 10, 9, 6) + (0,) * 6  # dialling from 09 to 18
SMS_HOURS = (0,) * 8 + (3, 6, 6, 5, 4, 4, 5, 5, 4, 3, 2, 1) + (0,) * 4

# Shift starts (local hour, share of the team). Shifts last 8 h 20 min including lunch; the
# morning peak is deliberately thinner than the afternoon, as in most real rosters.
SHIFTS = ((7, 0.10), (8, 0.30), (9, 0.20), (11, 0.15), (13, 0.25))
SHIFT_SECONDS = 8 * 3600 + 20 * 60

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
TRANSFER_RATE = 0.08
SECOND_TRANSFER_RATE = 0.30
OUTBOUND_ANSWER_RATE = 0.58
RECORDING_RATE = 0.95
REPEAT_CALLER_RATE = 0.22
ANONYMOUS_CALLER_RATE = 0.02


@dataclass(frozen=True)
class SimulationConfig:
    day: date
    calls: int = 2000
    seed: int = 55
    agents: int | None = None  # None: one agent per 80 contacts of the day
    queues: int = 3
    centrals: int = 2

    @property
    def agent_count(self) -> int:
        return self.agents if self.agents is not None else max(4, round(self.calls / 80))


@dataclass
class Agent:
    branch_mask: int
    email: str
    shift_start: float  # seconds since local midnight
    queues: tuple[str, ...]
    free_at: float = 0.0

    @property
    def shift_end(self) -> float:
        return self.shift_start + SHIFT_SECONDS

    def on_shift(self, at: float) -> bool:
        return self.shift_start <= at < self.shift_end


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
    agent: Agent | None = None
    ring_seconds: int = 0
    wait_seconds: int = 0
    talk_seconds: int = 0
    duration_seconds: int = 0
    closed_ivr: bool = False  # the caller reached the IVR outside opening hours
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
        for index in range(count):
            name = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
            while name in used_names:
                name = f"{name}{rng.randrange(2, 10)}"
            used_names.add(name)
            shift_hour = rng.choices([h for h, _ in SHIFTS], weights=[w for _, w in SHIFTS])[0]
            agents.append(
                Agent(
                    branch_mask=base_extension + 100 + index,
                    email=f"{name}@central{central_id}.example.com.br",
                    shift_start=shift_hour * 3600 + rng.choice((0, 0, 15 * 60, 30 * 60)),
                    queues=() if index < outbound_count else skills[index - outbound_count],
                )
            )
        return agents[:outbound_count], agents[outbound_count:]

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
        return [(queue,) for queue, n in zip(queues, seats, strict=True) for _ in range(n)]

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

    def arrival_times(self, count: int, curve: tuple[int, ...]) -> list[float]:
        hours = self.rng.choices(range(24), weights=curve, k=count)
        return sorted(hour * 3600 + self.rng.uniform(0, 3600) for hour in hours)

    # ---- the day ----------------------------------------------------------------------------

    def run(self) -> SimulatedDay:
        centrals = self.build_centrals()
        central_shares = self._central_shares(len(centrals))
        rng = self.rng
        kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=self.config.calls)
        counts = {kind: kinds.count(kind) for kind in MIX}
        curve = ARRIVAL_CURVES[day_type(self.config.day)]

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
        open_agents = [a for a in central.inbound_agents if a.on_shift(leg.started_at)]
        if not open_agents:
            # outside opening hours the IVR plays the closed message and hangs up
            leg.closed_ivr = True
            leg.ivr_seconds = int(rng.uniform(15, 40))
            leg.duration_seconds = leg.ivr_seconds
            return
        if rng.random() < IVR_HANGUP_RATE:
            leg.ivr_seconds = int(rng.uniform(3, leg.ivr_seconds))
            leg.duration_seconds = leg.ivr_seconds
            return
        option = rng.choices(range(len(central.queues)), weights=central.queue_shares)[0]
        leg.ivr_option = option + 1
        leg.queue = central.queues[option]
        if rng.random() < 0.2:
            leg.order_number = str(rng.randrange(100000, 1000000))
        self._schedule(leg.queue_entered_at, "queue", leg)

    def _queue(self, leg: Leg, entered_at: float) -> None:
        """FIFO service: the caller takes the agent who frees up first, unless patience ends."""
        rng = self.rng
        pool = [a for a in leg.central.inbound_agents if leg.queue in a.queues]
        patience = rng.lognormvariate(math.log(75), 0.9)
        best_agent, answer_at = None, math.inf
        for agent in pool:
            start = max(agent.free_at, agent.shift_start, entered_at)
            if start < agent.shift_end and start < answer_at:
                best_agent, answer_at = agent, start
        ring = int(rng.uniform(2, 9))
        if best_agent is None or answer_at + ring - entered_at > patience:
            leg.outcome = "abandoned_queue"
            leg.wait_seconds = int(patience)
            leg.duration_seconds = leg.ivr_seconds + leg.wait_seconds
            return
        leg.outcome = "answered"
        leg.agent = best_agent
        leg.ring_seconds = ring
        leg.wait_seconds = int(answer_at + ring - entered_at)
        leg.talk_seconds = int(min(3600, max(12, rng.lognormvariate(math.log(180), 0.7))))
        leg.duration_seconds = leg.ivr_seconds + leg.wait_seconds + leg.talk_seconds
        leg.has_recording = rng.random() < RECORDING_RATE
        best_agent.free_at = leg.ended_at + rng.uniform(5, 30)  # wrap-up before the next call
        self._maybe_transfer(leg)

    def _maybe_transfer(self, leg: Leg) -> None:
        rng = self.rng
        depth = len(self._chain_before(leg)) + 1
        rate = TRANSFER_RATE if depth == 1 else SECOND_TRANSFER_RATE if depth == 2 else 0
        others = [q for q in leg.central.queues if q != leg.queue]
        if not others or rng.random() >= rate:
            return
        transfer_leg = Leg(
            central=leg.central,
            kind="inbound",
            started_at=leg.ended_at + rng.choice((0, 1, 1, 2)),
            customer=leg.customer,
            outcome="abandoned_queue",
            ivr_option=leg.ivr_option,
            queue=rng.choice(others),
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
        agent = min(
            central.outbound_agents, key=lambda a: max(a.free_at, a.shift_start, planned_at)
        )
        dialled_at = max(agent.free_at, agent.shift_start, planned_at)
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
        leg.duration_seconds = ring + leg.talk_seconds
        leg.cost = call_cost(leg.talk_seconds, leg.tax_per_minute)
        agent.free_at = leg.ended_at + rng.uniform(10, 40)
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

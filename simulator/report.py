"""What 55pbx's report API knows about simulated days: the rows of report_01, _02 and _03.

Every value comes from the model (simulator/model.py); only the vendor's spelling varies, drawn
from a random stream of its own (`pbx55-simulator:<seed>:report`), so the report never changes
what the calls were, and the same seed gives the same answers. The quirks are those of
/work/shared/docs/report-api.md and docs/contracts.md "Report API": `H:MM:SS` durations,
Brasília wall time labelled `Z`, an hour as a number or a string, an agent extension or a queue
overflow as a string or an array, blanks spelled `""`, `null` or left out, survey answers on some
rows and, now and then, a field nobody documented.

A closed-IVR leg picked for the voice bot (its own stream, `pbx55-simulator:<seed>:voice-bot`,
about a third of them) is listed twice with one `call_id`, as the vendor does: retained in the
IVR, and attended in a `<4 digits>-URA_redirecionamento` queue by a phone number. report_01
counts both rows, as the vendor's own totals do.

The vendor lists a call once it has finished: every query takes `now`, and a leg that had not
ended by then is absent (None: the whole day is over).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from simulator.model import SAO_PAULO, Agent, Leg, SimulatedDay
from simulator.pushes import recording_url

VOICE_BOT_RATE = 1 / 3
VOICE_BOT_QUEUE_SUFFIX = "URA_redirecionamento"
SURVEY_RATE = 0.3
TICKET_RATE = 0.1
UNDOCUMENTED_FIELD_RATE = 0.03
UNDOCUMENTED_FIELD = "wz_call_tag"
IVR_NAME = "URA_PRINCIPAL"
CLOSED_IVR_NAME = "URA_FORA_DO_HORARIO"

_LEFT_OUT = object()  # a blank field the vendor does not send at all


def hms(seconds: int) -> str:
    """The vendor's duration spelling: `H:MM:SS` (hours not padded, and past 24 if need be)."""
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def z_labelled(local: datetime) -> str:
    """Brasília wall time with the `Z` the vendor puts on it (it is not UTC)."""
    return f"{local:%Y-%m-%dT%H:%M:%S}.000Z"


def queue_id(central_id: str, queue: str) -> str:
    """A stable 24-hex id per queue, like the vendor's (pushes carry only the queue's name)."""
    return hashlib.sha256(f"queue:{central_id}:{queue}".encode()).hexdigest()[:24]


def voice_bot_queue(central_id: str) -> str:
    digits = int(hashlib.sha256(f"bot:{central_id}".encode()).hexdigest()[:8], 16) % 9000 + 1000
    return f"{digits}-{VOICE_BOT_QUEUE_SUFFIX}"


def voice_bot_number(central_id: str, home_ddd: int) -> str:
    line = int(hashlib.sha256(f"bot-line:{central_id}".encode()).hexdigest()[:8], 16) % 10**7
    return f"55{home_ddd}4{line:07d}"


def agent_name(agent: Agent) -> str:
    """The model names an agent only in the e-mail address; the report shows its local part."""
    return agent.email.split("@", 1)[0]


def type_call(leg: Leg, rng: random.Random) -> str:
    """The report's outcome word for a voice leg (`rng` picks how an unanswered dial is called)."""
    if leg.outcome == "answered":
        return "call_attended"
    if leg.outcome == "abandoned_queue":
        return "call_abandoned"
    if leg.outcome == "abandoned_ivr":
        return "call_retained_ura" if leg.retained_in_ivr else "call_abandoned"
    return rng.choices(["NOANSWER", "call_refused"], weights=[3, 1])[0]


def voice_bot_legs(day: SimulatedDay) -> frozenset[int]:
    """The positions in `day.legs` of the closed-IVR legs the vendor also lists as attended by
    the voice bot (seeded, so the same day always has the same ones)."""
    rng = random.Random(f"pbx55-simulator:{day.config.seed}:voice-bot")
    return frozenset(
        index
        for index, leg in enumerate(day.legs)
        if leg.closed_ivr and rng.random() < VOICE_BOT_RATE
    )


def in_report(leg: Leg) -> bool:
    """The report lists every voice leg, transfer legs included, once it has finished."""
    return leg.kind != "sms"


@dataclass(frozen=True)
class ReportCall:
    """One row of report_02, with what report_01 counts it by."""

    central_id: str
    started_at: datetime  # aware
    ended_at: datetime  # aware: the row exists from then on
    fields: dict[str, object]  # as the vendor sends it
    kind: str  # inbound or outbound
    type_call: str
    began_in_ivr: bool  # false for transfer legs, which start in the next queue
    queued: bool
    wait_seconds: int
    talk_seconds: int
    duration_seconds: int
    is_voice_bot: bool = False


@dataclass(frozen=True)
class AgentDay:
    """One agent's shift on one simulated day, and the legs report_03 sums for it."""

    central_id: str
    day: date
    agent: Agent
    shift_start: datetime
    shift_end: datetime
    answered: tuple[tuple[datetime, str, int], ...]  # (ended at, kind, talk seconds)
    productivity_as_text: bool


class _DayReport:
    def __init__(self, day: SimulatedDay) -> None:
        self.day = day
        self.rng = random.Random(f"pbx55-simulator:{day.config.seed}:report")
        self.voice_bot = voice_bot_legs(day)

    def calls(self) -> list[ReportCall]:
        rows = []
        for index, leg in enumerate(self.day.legs):
            if not in_report(leg):
                continue
            rows.append(self._call(leg))
            if index in self.voice_bot:
                rows.append(self._voice_bot_call(leg))
        return rows

    def agents(self) -> list[AgentDay]:
        answered: dict[int, list[tuple[datetime, str, int]]] = defaultdict(list)
        for leg in self.day.legs:
            if leg.agent is not None and leg.outcome == "answered":
                answered[id(leg.agent)].append(
                    (self._instant(leg.ended_at), leg.kind, leg.talk_seconds)
                )
        return [
            AgentDay(
                central_id=central.central_id,
                day=self.day.config.day,
                agent=agent,
                shift_start=self._instant(agent.shift_start),
                shift_end=self._instant(agent.shift_end),
                answered=tuple(answered[id(agent)]),
                productivity_as_text=self.rng.random() < 0.5,
            )
            for central in self.day.centrals
            for agent in sorted(
                central.outbound_agents + central.inbound_agents, key=lambda a: a.branch_mask
            )
        ]

    def _instant(self, seconds: float) -> datetime:
        midnight = datetime.combine(self.day.config.day, time.min, tzinfo=SAO_PAULO)
        return midnight + timedelta(seconds=seconds)

    def _blank(self) -> object:
        return self.rng.choices(["", None, _LEFT_OUT], weights=[16, 3, 1])[0]

    def _or_blank(self, value: object) -> object:
        """The value, or a blank as the vendor spells one (no field here has a meaningful 0)."""
        return value if value else self._blank()

    def _call(self, leg: Leg) -> ReportCall:
        rng = self.rng
        started = self.day.local_datetime(leg.started_at)
        answered_at = self._answered_at(leg)
        agent = leg.agent
        customer = leg.customer
        began_in_ivr = leg.kind == "inbound" and leg.transferred_from is None
        outcome_word = type_call(leg, rng)
        fields: dict[str, object] = {
            "call_id": leg.call_id,
            "call_id_origin": leg.journey_root.call_id,
            "type_call": outcome_word,
            "call_date": z_labelled(started),
            "wb_call_hour": started.hour if rng.random() < 0.5 else f"{started.hour:02d}",
            "wl_attended_date": self._or_blank(answered_at and f"{answered_at:%Y-%m-%d}"),
            "wl_attended_hour": self._or_blank(answered_at and f"{answered_at:%H:%M:%S}"),
            "wl_time_attended": self._or_blank(answered_at and z_labelled(answered_at)),
            "queue_name": self._or_blank(leg.queue),
            "queue_id": self._or_blank(leg.queue and queue_id(leg.central.central_id, leg.queue)),
            "call_time_URA": hms(leg.ivr_seconds),
            "call_time_waiting": hms(leg.wait_seconds),
            "call_time_spoken": hms(leg.talk_seconds),
            "call_time_total_duration": hms(leg.duration_seconds),
            "name": self._or_blank(agent and agent_name(agent)),
            "Wy_branch_mask_agent": self._extension(agent),
            "Wy_branch_email_agent": self._or_blank(agent and agent.email),
            "Wx_branch_number_agent": self._or_blank(agent and agent.branch_mask),
            "call_area_code": self._or_blank(customer.ddd and str(customer.ddd)),
            "call_number": self._or_blank(customer.number),
            "call_number_input": leg.central.did,
            "call_document": self._or_blank(leg.kind == "inbound" and customer.document),
            "call_order": self._or_blank(leg.order_number),
            "call_disconnection": "interno" if leg.hung_up_by == "agent" else "externo",
            "way_ura": self._or_blank(self._ivr_path(leg) if began_in_ivr else ""),
            "wk_ivr_1_name": self._or_blank(self._ivr_name(leg) if began_in_ivr else ""),
            "wk_ivr_1_option": self._or_blank(leg.ivr_option and str(leg.ivr_option)),
            "wx_queue_overflow": [] if rng.random() < 0.5 else "",
            "ws_ticket_id": self._or_blank(
                str(rng.randrange(10**6, 10**7)) if rng.random() < TICKET_RATE else ""
            ),
            "call_url_audio": self._or_blank(
                recording_url(self.day, leg) if leg.has_recording else ""
            ),
        }
        if leg.kind == "inbound" and leg.outcome == "answered" and rng.random() < SURVEY_RATE:
            fields["wh_question_1_1_NOTA"] = str(rng.randint(1, 5))
            fields["wh_question_1_2_RESOLVIDO"] = rng.choice(("SIM", "NAO"))
        if rng.random() < UNDOCUMENTED_FIELD_RATE:
            fields[UNDOCUMENTED_FIELD] = rng.choice(("retorno", "vip", "reclamacao"))
        return ReportCall(
            central_id=leg.central.central_id,
            started_at=started,
            ended_at=self._instant(leg.ended_at),
            fields={name: value for name, value in fields.items() if value is not _LEFT_OUT},
            kind=leg.kind,
            type_call=outcome_word,
            began_in_ivr=began_in_ivr,
            queued=leg.queue is not None,
            wait_seconds=leg.wait_seconds,
            talk_seconds=leg.talk_seconds,
            duration_seconds=leg.duration_seconds,
        )

    def _voice_bot_call(self, leg: Leg) -> ReportCall:
        """The second row of a call the closed IVR handed to the voice bot."""
        central = leg.central
        queue = voice_bot_queue(central.central_id)
        started = self.day.local_datetime(leg.started_at)
        fields: dict[str, object] = {
            "call_id": leg.call_id,
            "call_id_origin": leg.journey_root.call_id,
            "type_call": "call_attended",
            "call_date": z_labelled(started),
            "wb_call_hour": started.hour,
            "wl_attended_date": f"{started:%Y-%m-%d}",
            "wl_attended_hour": f"{started:%H:%M:%S}",
            "wl_time_attended": z_labelled(started),
            "queue_name": queue,
            "queue_id": queue_id(central.central_id, queue),
            "call_time_URA": hms(0),
            "call_time_waiting": hms(0),
            "call_time_spoken": hms(leg.duration_seconds),
            "call_time_total_duration": hms(leg.duration_seconds),
            "name": voice_bot_number(central.central_id, central.home_ddd),
            "Wy_branch_mask_agent": self._blank(),
            "call_area_code": self._or_blank(leg.customer.ddd and str(leg.customer.ddd)),
            "call_number": self._or_blank(leg.customer.number),
            "call_number_input": central.did,
            "call_disconnection": "externo",
            "wx_queue_overflow": "",
        }
        return ReportCall(
            central_id=central.central_id,
            started_at=started,
            ended_at=self._instant(leg.ended_at),
            fields={name: value for name, value in fields.items() if value is not _LEFT_OUT},
            kind="inbound",
            type_call="call_attended",
            began_in_ivr=True,
            queued=True,
            wait_seconds=0,
            talk_seconds=leg.duration_seconds,
            duration_seconds=leg.duration_seconds,
            is_voice_bot=True,
        )

    def _answered_at(self, leg: Leg) -> datetime | None:
        if leg.outcome != "answered":
            return None
        if leg.kind == "inbound":
            return self.day.local_datetime(leg.queue_entered_at + leg.wait_seconds)
        return self.day.local_datetime(leg.ended_at - leg.talk_seconds)

    def _extension(self, agent: Agent | None) -> object:
        if agent is None:
            return self._blank()
        extension = str(agent.branch_mask)
        return [extension] if self.rng.random() < 0.25 else extension

    @staticmethod
    def _ivr_name(leg: Leg) -> str:
        return CLOSED_IVR_NAME if leg.closed_ivr else IVR_NAME

    def _ivr_path(self, leg: Leg) -> str:
        if leg.ivr_option is None:
            return self._ivr_name(leg)
        return f"{IVR_NAME} > Opcao {leg.ivr_option}"


class VendorReports:
    """The three reports of the given days, per central, as of any moment."""

    def __init__(self, days: Sequence[SimulatedDay]) -> None:
        self._calls: dict[str, list[ReportCall]] = defaultdict(list)
        self._agents: dict[str, list[AgentDay]] = defaultdict(list)
        for day in days:
            day_report = _DayReport(day)
            for call in day_report.calls():
                self._calls[call.central_id].append(call)
            for agent_day in day_report.agents():
                self._agents[agent_day.central_id].append(agent_day)
        for calls in self._calls.values():
            # a stable sort: a voice-bot row stays right after the row it repeats
            calls.sort(key=lambda call: call.started_at)

    @property
    def central_ids(self) -> frozenset[str]:
        return frozenset(self._calls) | frozenset(self._agents)

    def calls(
        self, central_id: str, start: datetime, end: datetime, now: datetime | None = None
    ) -> list[ReportCall]:
        """The rows whose start falls in [start, end] and that had ended by `now`."""
        return [
            call
            for call in self._calls.get(central_id, ())
            if start <= call.started_at <= end and (now is None or call.ended_at <= now)
        ]

    def report_01(
        self, central_id: str, start: datetime, end: datetime, now: datetime | None = None
    ) -> dict[str, object]:
        """The day's totals (camelCase), counted over report_02's rows, voice-bot rows included."""
        rows = self.calls(central_id, start, end, now)
        inbound = [row for row in rows if row.kind == "inbound"]
        outbound = [row for row in rows if row.kind == "outbound"]
        attended = [row for row in rows if row.type_call == "call_attended"]
        attended_inbound = [row for row in inbound if row.type_call == "call_attended"]
        return {
            "totalCall": len(rows),
            "totalCallProcessedURA": sum(row.began_in_ivr for row in inbound),
            "totalCallProcessedQueue": sum(row.queued for row in inbound),
            "totalCallAttendedReceptive": len(attended_inbound),
            "totalCallAbandonedQueue": sum(
                row.queued and row.type_call == "call_abandoned" for row in inbound
            ),
            "totalCallAbandonedURA": sum(
                not row.queued and row.type_call == "call_abandoned" for row in inbound
            ),
            "totalCallRetainedURA": sum(row.type_call == "call_retained_ura" for row in inbound),
            "totalCallActive": len(outbound),
            "totalCallAttendedActive": sum(row.type_call == "call_attended" for row in outbound),
            "totalCallRefusedActive": sum(row.type_call != "call_attended" for row in outbound),
            "timeMediumDurationCall": hms(_mean(row.duration_seconds for row in attended)),
            "timeMaxDurationCall": hms(max((row.duration_seconds for row in attended), default=0)),
            "timeMediumWaitingAttendance": hms(_mean(row.wait_seconds for row in attended_inbound)),
            "timeMaxWaitingAttendance": hms(
                max((row.wait_seconds for row in attended_inbound), default=0)
            ),
            "timeTotalSpoken": hms(sum(row.talk_seconds for row in rows)),
        }

    def report_02(
        self, central_id: str, start: datetime, end: datetime, now: datetime | None = None
    ) -> dict[str, list[dict[str, object]]]:
        return {
            "data_report02": [dict(call.fields) for call in self.calls(central_id, start, end, now)]
        }

    def report_03(
        self, central_id: str, start: datetime, end: datetime, now: datetime | None = None
    ) -> dict[str, list[dict[str, object]]]:
        """One row per agent on shift (by `now`) on each simulated day the range touches.

        Talk is the sum of the agent's answered legs that had ended by `now`; idle is the time
        on shift so far minus talk and pauses; the model has no breaks, so pauses are 0.
        """
        rows = []
        for agent_day in self._agents.get(central_id, ()):
            day_start = datetime.combine(agent_day.day, time.min, tzinfo=SAO_PAULO)
            if not (day_start <= end and start < day_start + timedelta(days=1)):
                continue
            until = agent_day.shift_end if now is None else min(agent_day.shift_end, now)
            if until <= agent_day.shift_start:
                continue
            on_shift = int((until - agent_day.shift_start).total_seconds())
            finished = [
                (kind, talk)
                for ended, kind, talk in agent_day.answered
                if now is None or ended <= now
            ]
            talk = sum(seconds for _, seconds in finished)
            productivity = round(100 * talk / on_shift, 2) if on_shift else 0.0
            agent = agent_day.agent
            rows.append(
                {
                    "name": agent_name(agent),
                    "Wy_branch_mask_agent": str(agent.branch_mask),
                    "Wy_branch_email_agent": agent.email,
                    "timeTotalSpoken": hms(talk),
                    "timeIdle": hms(max(0, on_shift - talk)),
                    "timeTotalPaused": hms(0),
                    "productivity": (
                        f"{productivity:.2f}" if agent_day.productivity_as_text else productivity
                    ),
                    "attendedReceptive": sum(kind == "inbound" for kind, _ in finished),
                    "attendedActive": sum(kind == "outbound" for kind, _ in finished),
                    "quantityRefusal": 0,  # the model's agents never refuse a call
                }
            )
        return {"data_report03": rows}


def _mean(values: Iterable[int]) -> int:
    """The mean of whole seconds, rounded half up (0 when there are none)."""
    numbers = list(values)
    if not numbers:
        return 0
    return (2 * sum(numbers) + len(numbers)) // (2 * len(numbers))

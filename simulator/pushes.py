"""Turn simulated legs into the pushes 55pbx would send, quirks included.

Each leg becomes the lifecycle of field-notes.md (IVR push with an empty queue, `call_waiting`,
`new_call` again when an agent's phone opens, the final push; a third push on transfer), rendered
the way real senders render it: numbers as strings, comma decimals, `H:MM:SS` durations, several
`call_date` formats, ids as JSON numbers that lose trailing zeros, and now and then one of the
vendor's malformed bodies. Then the platform's delivery misbehaves: retried duplicates, start
pushes delivered after the final push, final pushes that never come.

The values are the model's; only their spelling varies. A separate random stream drives the
spelling, so changing how pushes look never changes what the calls were.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from simulator.model import Leg, SimulatedDay

START_STAGES = frozenset({"ivr", "waiting", "ring", "dial"})
FINAL_STAGES = frozenset({"final", "transfer", "sms"})

DUPLICATE_RATE = 0.04
LATE_START_PUSH_RATE = 0.03
FINAL_PUSH_WITHOUT_QUEUE_RATE = 0.03

# How often each body encoding is sent. The malformed ones are the vendor document's own example
# (ISODate literal, trailing comma, extra closing brace) and what integrators report seeing.
ENCODINGS = {
    "json": 0.930,
    "isodate": 0.015,
    "trailing_comma": 0.015,
    "extra_brace": 0.010,
    "vendor_example": 0.005,
    "array": 0.010,
    "form": 0.015,
}
DATE_FORMATS = {"ymd_hms": 0.62, "iso_z_local": 0.15, "dmy_hms": 0.10, "epoch_ms": 0.13}
CALL_TYPE_WORDS = {
    ("inbound", "en"): "receptive",
    ("inbound", "pt"): "receptivo",
    ("outbound", "en"): "active",
    ("outbound", "pt"): "ativo",
    ("sms", "en"): "sms",
    ("sms", "pt"): "sms",
}


class JsonLiteral(str):
    """Text written into the body as is: numbers with every digit kept, `ISODate(...)`."""


JSON_NULL = JsonLiteral("null")


@dataclass(frozen=True)
class Push:
    leg_index: int  # position of the leg in SimulatedDay.legs
    stage: str  # ivr, waiting, ring, final, transfer, dial, sms
    send_at: float  # simulated seconds since local midnight
    body: bytes
    content_type: str
    method: str
    auth_style: str  # token, Token, TOKEN or bearer
    encoding: str
    is_duplicate: bool = False
    is_late: bool = False

    @property
    def is_final(self) -> bool:
        return self.stage in FINAL_STAGES


def recording_url(day: SimulatedDay, leg: Leg) -> str:
    """Where the platform keeps a leg's recording: pushes and the report API name the same URL."""
    started = day.local_datetime(leg.started_at)
    return (
        f"https://sip1.55pbx.com/webphone-{leg.central.central_id}/{started:%Y/%m/%d}/"
        f"audio-{started:%Y-%m-%d_%H-%M-%S}-{leg.agent.branch_mask if leg.agent else 0}"
        f"-{leg.call_id}.wav"
    )


def warehouse_outcome(leg: Leg) -> str:
    """The outcome pbx55 should give the finished leg: the model's, except that a leg the IVR
    kept (the closed-hours message, or self-service) is `retained_ivr`, sent as
    `call_retained_ura`: only a caller who hangs up abandons. The one place that says which legs
    are retained."""
    return "retained_ivr" if leg.retained_in_ivr else leg.outcome


def call_type_word(leg: Leg, rng: random.Random) -> str:
    word = CALL_TYPE_WORDS[(leg.kind, leg.central.language)]
    return word.upper() if rng.random() < 0.05 else word


class _PushRenderer:
    def __init__(self, day: SimulatedDay) -> None:
        self.day = day
        self.rng = random.Random(f"pbx55-simulator:{day.config.seed}:pushes")
        self.call_type_words = {id(leg): call_type_word(leg, self.rng) for leg in day.legs}
        self.transfer_forward: dict[int, bool] = {}

    def render(self) -> list[Push]:
        pushes: list[Push] = []
        for index, leg in enumerate(self.day.legs):
            pushes.extend(self._leg_pushes(index, leg))
        pushes.extend(self._retried_duplicates(pushes))
        pushes.sort(key=lambda push: (push.send_at, push.leg_index, push.is_duplicate))
        return pushes

    def call_type_sent(self, leg: Leg) -> str:
        return self.call_type_words[id(leg)]

    def transfer_sent_forward(self, leg: Leg) -> bool:
        """Which leg of a transfer names the other: decided once per journey."""
        root = id(leg.journey_root)
        if root not in self.transfer_forward:
            self.transfer_forward[root] = self.rng.random() < 0.5
        return self.transfer_forward[root]

    # ---- lifecycle -------------------------------------------------------------------------

    def _leg_pushes(self, index: int, leg: Leg) -> list[Push]:
        rng = self.rng
        stages: list[tuple[str, float]] = []
        if leg.kind == "sms":
            stages.append(("sms", leg.started_at + rng.uniform(0, 2)))
        elif leg.kind == "outbound":
            stages.append(("dial", leg.started_at))
        else:
            if leg.transferred_from is None:
                stages.append(("ivr", leg.started_at + rng.uniform(0.2, 1.5)))
            queued_at = leg.queue_entered_at + rng.uniform(0.2, 1.0)
            if leg.queue is not None:
                stages.append(("waiting", queued_at))
            if leg.agent is not None:
                rang_at = leg.queue_entered_at + leg.wait_seconds - leg.ring_seconds
                stages.append(("ring", max(rang_at, queued_at) + rng.uniform(0.1, 0.5)))
        late_stage = None
        if leg.kind != "sms" and not leg.final_push_lost:
            final_at = leg.ended_at + rng.uniform(1, 5)
            stages.append(("final", final_at))
            if leg.transferred_to is not None and self.transfer_sent_forward(leg):
                stages.append(("transfer", final_at + rng.uniform(1, 3)))
            late_stage = self._start_push_to_delay(stages)
            if late_stage is not None:
                # held back by the platform's retries, it arrives after the final push
                stages[late_stage] = (stages[late_stage][0], final_at + rng.uniform(4, 300))
        return [
            self._push(index, leg, stage, send_at, is_late=position == late_stage)
            for position, (stage, send_at) in enumerate(stages)
        ]

    def _start_push_to_delay(self, stages: list[tuple[str, float]]) -> int | None:
        movable = [i for i, (stage, _) in enumerate(stages) if stage in ("waiting", "ring")]
        if not movable or self.rng.random() >= LATE_START_PUSH_RATE:
            return None
        return self.rng.choice(movable)

    def _retried_duplicates(self, pushes: list[Push]) -> list[Push]:
        """The vendor retries when it misses the 200: the identical body comes again."""
        return [
            replace(
                push,
                send_at=push.send_at + self.rng.uniform(0.5, 90),
                is_duplicate=True,
                is_late=False,  # a copy of a push already received is not a late push
            )
            for push in pushes
            if self.rng.random() < DUPLICATE_RATE
        ]

    # ---- body fields -----------------------------------------------------------------------

    def _fields(self, leg: Leg, stage: str) -> dict[str, object]:
        """The push's fields as the platform knows them at this stage (None: not sent)."""
        rng = self.rng
        final = stage in FINAL_STAGES
        after_ivr = stage in ("waiting", "ring") or final
        customer = leg.customer
        fields: dict[str, object] = {
            "central_id": leg.central.central_id,
            "branch_mask": leg.agent.branch_mask if leg.agent and stage != "ivr" else "",
            "call_id": leg.call_id,
            "call_date": self.day.local_datetime(leg.started_at),
            "call_terminal": leg.central.did,
            "call_type": self.call_type_sent(leg),
            "call_number": self._phone_number(leg),
            "call_area_code": str(customer.ddd) if customer.ddd else "",
            "call_country_code": "55",
            "call_document": customer.document if after_ivr and leg.kind == "inbound" else "",
            "call_order": leg.order_number if after_ivr else "",
            "call_ura": self._ivr_option(leg) if after_ivr else "",
            "call_queue": leg.queue if after_ivr and leg.queue else "",
            "call_status": self._status(leg, stage),
            "call_disconnection": self._disconnection(leg, stage),
            "call_time": leg.talk_seconds if final else 0,
            "call_duration": leg.duration_seconds if final else 0,
            "call_time_waiting": self._wait_so_far(leg, stage),
            "call_url_audio": recording_url(self.day, leg) if final and leg.has_recording else "",
            "call_tax": leg.tax_per_minute if final else Decimal("0"),
            "call_tax_type": leg.tax_type if final else "",
            "call_cost": leg.cost if final else Decimal("0"),
            "call_balance": leg.balance_after if final else rng.choice((None, JSON_NULL)),
            "call_audio_file": self._audio_file(leg) if final and leg.has_recording else "",
            "call_transfer_id": self._transfer_id(leg, stage),
        }
        if (
            leg.agent
            and leg.kind == "inbound"
            and (stage == "ring" or (final and rng.random() < 0.7))
        ):
            fields["branch_email"] = leg.agent.email
        if stage == "final" and leg.queue and rng.random() < FINAL_PUSH_WITHOUT_QUEUE_RATE:
            fields["call_queue"] = None  # the reducer must fill it from the earlier pushes
        if stage == "ivr":
            fields["call_time_waiting"] = rng.choice((0, None, JSON_NULL))
        if final and leg.central is self.day.centrals[-1] and len(self.day.centrals) > 1:
            # this customer's platform is a newer release that sends a field nobody documented
            day_number = f"{self.day.config.day:%Y%m%d}"
            fields["call_protocol"] = f"{day_number}{leg.call_id.split('.')[1]:0>6}"
        return fields

    def _status(self, leg: Leg, stage: str) -> str:
        rng = self.rng
        if stage in ("ivr", "ring", "dial"):
            return "new_call"
        if stage == "waiting":
            return "call_waiting"
        if stage == "sms":
            return ""
        # On final pushes the status is often empty; the content (call_time, disconnection)
        # still tells that the call has ended.
        if leg.outcome == "answered":
            return rng.choices(["call_attended", ""], weights=[3, 1])[0]
        if leg.outcome == "abandoned_queue":
            return rng.choices(["call_abandoned", ""], weights=[6, 1])[0]
        if warehouse_outcome(leg) == "retained_ivr":
            return "call_retained_ura"
        if leg.outcome == "abandoned_ivr":
            return "call_abandoned"
        return rng.choices(["NOANSWER", "call_refused", ""], weights=[5, 2, 3])[0]

    def _disconnection(self, leg: Leg, stage: str) -> str:
        if stage not in ("final", "transfer"):
            return ""
        if leg.outcome == "answered" and self.rng.random() < 0.1:
            return ""  # call_time > 0 is enough to tell the push is final
        return "interno" if leg.hung_up_by == "agent" else "externo"

    @staticmethod
    def _wait_so_far(leg: Leg, stage: str) -> int:
        if stage in ("final", "transfer"):
            return leg.wait_seconds
        if stage == "ring":
            return leg.wait_seconds - leg.ring_seconds
        return 0

    def _transfer_id(self, leg: Leg, stage: str) -> str:
        if stage == "transfer" and leg.transferred_to is not None:
            return leg.transferred_to.call_id
        newer_leg_names_older = stage == "final" and leg.transferred_from is not None
        if newer_leg_names_older and not self.transfer_sent_forward(leg):
            return leg.transferred_from.call_id
        return ""

    def _phone_number(self, leg: Leg) -> str:
        number = leg.customer.number
        if not number:
            return self.rng.choice(("", "anonymous"))
        roll = self.rng.random()
        if roll < 0.08:
            return f"+55{number}"
        if roll < 0.15:
            return f"({number[:2]}) {number[2:-4]}-{number[-4:]}"
        if roll < 0.20:
            return f"0{number}"
        return number

    def _ivr_option(self, leg: Leg) -> str:
        if leg.ivr_option is None:
            return ""
        spelling = self.rng.choices(["Opcao - {}", "Opção - {}", " opcao - {} "], [8, 1, 1])[0]
        return spelling.format(leg.ivr_option)

    def _audio_file(self, leg: Leg) -> str:
        return recording_url(self.day, leg).rsplit("/", 1)[1]

    # ---- spelling --------------------------------------------------------------------------

    def _push(self, index: int, leg: Leg, stage: str, send_at: float, *, is_late: bool) -> Push:
        rng = self.rng
        encoding = rng.choices(list(ENCODINGS), weights=list(ENCODINGS.values()))[0]
        fields = self._spell(self._fields(leg, stage), encoding)
        if encoding == "form":
            # a form has no null: senders leave the value empty
            form = {k: "" if v is JSON_NULL else str(v) for k, v in fields.items()}
            body = urlencode(form).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            body = self._json_text(fields, encoding).encode()
            content_type = rng.choice(("application/json", "application/json; charset=utf-8"))
        return Push(
            leg_index=index,
            stage=stage,
            send_at=send_at,
            body=body,
            content_type=content_type,
            method="PUT" if rng.random() < 0.1 else "POST",
            auth_style=rng.choices(["token", "Token", "TOKEN", "bearer"], [6, 1, 1, 2])[0],
            encoding=encoding,
            is_late=is_late,
        )

    def _spell(self, fields: dict[str, object], encoding: str) -> dict[str, object]:
        """Choose, per push, how a sender spells each typed value."""
        rng = self.rng
        duration_style = rng.choices(["int", "str", "hms"], [12, 5, 3])[0]
        money_style = rng.choices(["number", "dot", "comma"], [3, 1, 1])[0]
        date_format = rng.choices(list(DATE_FORMATS), weights=list(DATE_FORMATS.values()))[0]
        if encoding in ("isodate", "vendor_example"):
            date_format = "isodate"
        spelled: dict[str, object] = {}
        for name, value in fields.items():
            if value is None:
                continue
            if value is JSON_NULL:
                spelled[name] = value
                continue
            if name in ("call_time", "call_duration", "call_time_waiting"):
                spelled[name] = _duration(int(value), duration_style)  # type: ignore[call-overload]
            elif isinstance(value, Decimal):
                spelled[name] = _money(value, money_style)
            elif isinstance(value, datetime):
                spelled[name] = _call_date(value, date_format)
            elif name == "call_id" and rng.random() < 0.15:
                spelled[name] = JsonLiteral(value)  # a JSON number: 1716824410.5190 loses a 0
            elif name in ("central_id", "call_area_code") and value and rng.random() < 0.1:
                spelled[name] = JsonLiteral(value)
            elif name == "branch_mask" and isinstance(value, int) and rng.random() < 0.4:
                spelled[name] = str(value)
            else:
                spelled[name] = value
        return spelled

    def _json_text(self, fields: dict[str, object], encoding: str) -> str:
        vendor_style = encoding != "json" or self.rng.random() < 0.3
        separator, indent = (" : ", "\n    ") if vendor_style else (": ", "")
        members = [f"{indent}{json.dumps(k)}{separator}{_json_value(v)}" for k, v in fields.items()]
        closing = "\n}" if vendor_style else "}"
        if encoding in ("trailing_comma", "vendor_example"):
            text = "{" + ",".join(members) + "," + closing
        else:
            text = "{" + ",".join(members) + closing
        if encoding in ("extra_brace", "vendor_example"):
            text += "\n}"
        if encoding == "array":
            text = f"[{text}]"
        return text


def _json_value(value: object) -> str:
    if isinstance(value, JsonLiteral):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _duration(seconds: int, style: str) -> object:
    if style == "str":
        return str(seconds)
    if style == "hms":
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return seconds


def _money(amount: Decimal, style: str) -> object:
    text = format(amount, "f")
    if style == "dot":
        return text
    if style == "comma":
        return text.replace(".", ",")
    return JsonLiteral(text)


def _call_date(local: datetime, date_format: str) -> object:
    if date_format == "isodate":
        return JsonLiteral(f'ISODate("{local:%Y-%m-%d %H:%M:%S}")')
    if date_format == "iso_z_local":
        return f"{local:%Y-%m-%dT%H:%M:%S}Z"  # the vendor labels Brasília wall time with Z
    if date_format == "dmy_hms":
        return f"{local:%d/%m/%Y %H:%M:%S}"
    if date_format == "epoch_ms":
        return JsonLiteral(str(int(local.timestamp() * 1000)))
    return f"{local:%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class RenderedDay:
    pushes: list[Push]  # in sending order
    call_types_sent: list[str]  # per leg, as spelled in its pushes
    transfer_forward: list[bool | None]  # per leg: does the older leg name the newer one?


def render_pushes(day: SimulatedDay) -> RenderedDay:
    renderer = _PushRenderer(day)
    pushes = renderer.render()
    return RenderedDay(
        pushes=pushes,
        call_types_sent=[renderer.call_type_sent(leg) for leg in day.legs],
        transfer_forward=[
            renderer.transfer_sent_forward(leg)
            if leg.transferred_from or leg.transferred_to
            else None
            for leg in day.legs
        ],
    )

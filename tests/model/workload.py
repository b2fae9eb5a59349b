"""Random request bodies for the model-based run: usage events (new, retried,
changed, invalid), price and plan versions (backdated, forward, tied, some
that stop pricing a model), amounts. Every choice comes from one seeded
random.Random, so a run is repeatable from its seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

MILLION = 1_000_000
ONE_MICROSECOND = timedelta(microseconds=1)
BASE_RATES: dict[tuple[str, str], dict[str, tuple[str, int]]] = {
    ("openai", "gpt-4o"): {
        "input_tokens": ("2.50", MILLION),
        "output_tokens": ("10", MILLION),
        "cached_input_tokens": ("1.25", MILLION),
    },
    ("openai", "gpt-4o-mini"): {"input_tokens": ("0.15", MILLION), "output_tokens": ("0.60", MILLION)},
    ("anthropic", "claude-sonnet-4-5"): {
        "input_tokens": ("3", MILLION),
        "output_tokens": ("15", MILLION),
        "cache_write_tokens": ("3.75", MILLION),
    },
    ("openai", "dall-e-3"): {"images": ("0.04", 1)},
    ("openai", "whisper-1"): {"audio_seconds": ("0.0001", 1)},
    ("anthropic", "claude-haiku-4-5"): {
        "input_tokens": ("0.8", MILLION),
        "output_tokens": ("4", MILLION),
        "requests": ("0.35", 1000),
    },
}
UNPRICED_AT_FIRST = ("anthropic", "claude-haiku-4-5")  # priced only by a later version, if ever
# The premium price book prices at half as much again, and leaves out two models at first:
# a customer moved onto a plan of it has usage that its old plan priced and its new one does not.
PREMIUM_FACTOR = Decimal("1.5")
NOT_IN_PREMIUM_AT_FIRST = (("openai", "dall-e-3"), ("openai", "whisper-1"))
PRICE_FACTORS = ("0", "0.5", "0.8", "1", "1", "1.1", "1.5", "2.5", "0.333333")
MARKUPS = ("0", "5", "12.5", "20", "20", "33.3333", "50", "100")
FEATURES = ("chat", "search", "batch")
OFFSETS = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30)))
FIRST_EFFECTIVE = datetime(2020, 1, 1, tzinfo=UTC)


def rate_rows(rates: dict[tuple[str, str, str], tuple[Decimal, int]]) -> list[dict[str, Any]]:
    return [
        {"provider": provider, "model": model, "unit": unit, "price": format(price, "f"), "per": per}
        for (provider, model, unit), (price, per) in sorted(rates.items())
    ]


def first_rates(price_book: str) -> dict[tuple[str, str, str], tuple[Decimal, int]]:
    premium = price_book == "premium"
    left_out = {UNPRICED_AT_FIRST, *NOT_IN_PREMIUM_AT_FIRST} if premium else {UNPRICED_AT_FIRST}
    factor = PREMIUM_FACTOR if premium else Decimal(1)
    return {
        (provider, model, unit): (Decimal(price) * factor, per)
        for (provider, model), units in BASE_RATES.items()
        if (provider, model) not in left_out
        for unit, (price, per) in units.items()
    }


def stamp(moment: datetime, rng: random.Random) -> str:
    """RFC 3339 with an offset: mostly Z, sometimes another offset for the same instant."""
    zone = rng.choice(OFFSETS)
    text = moment.astimezone(zone).isoformat()
    return text.replace("+00:00", "Z") if zone is UTC else text


@dataclass
class Calendar:
    """The months a run spans, on the wall clock the server also reads."""

    previous_month: datetime
    this_month: datetime

    @classmethod
    def now(cls) -> Calendar:
        today = datetime.now(UTC)
        this_month = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        previous_month = (this_month - timedelta(days=1)).replace(day=1)
        return cls(previous_month, this_month)

    def billing_periods(self) -> list[tuple[datetime, datetime]]:
        """The previous month, then up to four periods of whole days in this month
        that have already ended (none when today is the month's first day)."""
        periods = [(self.previous_month, self.this_month)]
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = (today - self.this_month).days
        cuts = sorted({self.this_month + timedelta(days=days * part // 4) for part in (1, 2, 3, 4) if days * part // 4})
        start = self.this_month
        for end in cuts:
            periods.append((start, end))
            start = end
        return periods


class Workload:
    def __init__(self, rng: random.Random, calendar: Calendar) -> None:
        self.rng = rng
        self.calendar = calendar
        self.counter = 0
        # Per customer, the (sent, answered) window of each change of plan: a usage
        # timestamped inside one would be under either plan, so none is.
        self.plan_windows: dict[str, list[tuple[datetime, datetime]]] = {}

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def moment(self, known: list[datetime]) -> datetime:
        """A usage's moment: mostly this month or the last, sometimes exactly on a
        month's or a version's boundary, a hair before one, or a little ahead."""
        now = datetime.now(UTC)
        pick = self.rng.random()
        if pick < 0.45:
            return self._between(self.calendar.this_month, now)
        if pick < 0.80:
            return self._between(self.calendar.previous_month, self.calendar.this_month)
        if pick < 0.85:
            return self.rng.choice([self.calendar.this_month, self.calendar.this_month - timedelta(microseconds=1)])
        if pick < 0.92 and known:
            boundary = self.rng.choice(known)
            if self.calendar.previous_month <= boundary <= now:
                return boundary
        if pick < 0.96:
            return now + timedelta(seconds=self.rng.uniform(1, 240))  # ahead, within the five minutes allowed
        return now - timedelta(seconds=self.rng.uniform(0, 2))

    def outside_plan_windows(self, customer: str, moment: datetime) -> datetime:
        """The moment, or, inside a change of plan's window, a microsecond before or after it."""
        for sent, answered in self.plan_windows.get(customer, []):
            if sent <= moment <= answered:
                return self.rng.choice([sent - ONE_MICROSECOND, answered + ONE_MICROSECOND])
        return moment

    def _between(self, start: datetime, end: datetime) -> datetime:
        span = max((end - start).total_seconds(), 0.0)
        return start + timedelta(microseconds=int(self.rng.uniform(0, span) * MILLION))

    def quantities(self, provider: str, model: str) -> dict[str, int]:
        units = list(BASE_RATES[(provider, model)])
        chosen = self.rng.sample(units, self.rng.randint(1, len(units)))
        found = {unit: self._count(unit) for unit in chosen}
        if self.rng.random() < 0.05:
            found["reasoning_tokens"] = self.rng.randint(1, 5000)  # a unit no version prices
        if self.rng.random() < 0.05:
            found["characters"] = 0  # a unit at zero is not used, so it needs no price
        return found

    def _count(self, unit: str) -> int:
        if self.rng.random() < 0.05:
            return 0
        if unit.endswith("tokens"):
            return self.rng.randint(1, 40_000)
        return {"images": self.rng.randint(1, 3), "audio_seconds": self.rng.randint(1, 900)}.get(
            unit, self.rng.randint(1, 5)
        )

    def usage_event(self, customer: str, known: list[datetime], authorization: str | None) -> dict[str, Any]:
        provider, model = self.rng.choice(sorted(BASE_RATES))
        event: dict[str, Any] = {
            "id": self.next_id("ev"),
            "customer": customer,
            "timestamp": stamp(self.outside_plan_windows(customer, self.moment(known)), self.rng),
            "provider": provider,
            "model": model,
            "feature": self.rng.choice(FEATURES),
            "usage": self.quantities(provider, model),
        }
        if authorization is not None:
            event["authorization_id"] = authorization
        if self.rng.random() < 0.2:
            event["metadata"] = {"user": f"u{self.rng.randint(1, 9)}", "trace": {"depth": self.rng.randint(1, 3)}}
        return event

    def changed(self, event: dict[str, Any]) -> dict[str, Any]:
        """The same id with another body: a retry that was not a retry."""
        changed = {**event, "usage": dict(event["usage"])}
        pick = self.rng.randrange(3)
        if pick == 0:
            unit = self.rng.choice(sorted(changed["usage"]))
            changed["usage"][unit] += 1
        elif pick == 1:
            changed["feature"] = next(f for f in FEATURES if f != event.get("feature"))
        else:
            changed["metadata"] = {"changed": True}
        return changed

    def invalid(self, event: dict[str, Any]) -> dict[str, Any]:
        pick = self.rng.randrange(5)
        if pick == 0:
            return {**event, "usage": {**event["usage"], "input_tokens": -5}}
        if pick == 1:
            return {**event, "usage": {**event["usage"], "tokens": 10}}
        if pick == 2:
            return {**event, "customer": "nobody"}
        if pick == 3:
            return {**event, "timestamp": (datetime.now(UTC) + timedelta(minutes=7)).isoformat()}
        return {**event, "usage": {**event["usage"], "output_tokens": 1.5}}

    def rates(self) -> dict[tuple[str, str, str], tuple[Decimal, int]]:
        """A whole rate table: most models repriced, some dropped (a version that
        stops pricing a model, or one of its units)."""
        found = {}
        for (provider, model), units in BASE_RATES.items():
            if self.rng.random() < 0.2:
                continue
            dropped = self.rng.choice(sorted(units)) if self.rng.random() < 0.1 else None
            factor = Decimal(self.rng.choice(PRICE_FACTORS))
            for unit, (price, per) in units.items():
                if unit != dropped:
                    found[(provider, model, unit)] = ((Decimal(price) * factor).quantize(Decimal("1e-8")), per)
        return found

    def effective_from(self, published: list[datetime], usage_moments: list[datetime]) -> datetime:
        """Backdated (sometimes before every usage), forward, or tied with a
        published version or a usage's own moment."""
        now = datetime.now(UTC)
        pick = self.rng.random()
        if pick < 0.15 and published:
            return self.rng.choice(published)
        if pick < 0.25 and usage_moments:
            return self.rng.choice(usage_moments)
        if pick < 0.40:
            return now + timedelta(seconds=self.rng.uniform(1, 200))
        return self._between(self.calendar.previous_month - timedelta(days=3), now)

    def markup(self) -> Decimal:
        return Decimal(self.rng.choice(MARKUPS))

    def overrides(self) -> dict[tuple[str, str], Decimal]:
        models = sorted(BASE_RATES)
        return {model: self.markup() for model in self.rng.sample(models, self.rng.randint(0, 2))}

    def amount(self, low: str, high: str) -> Decimal:
        cents = self.rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
        return Decimal(cents) / 100

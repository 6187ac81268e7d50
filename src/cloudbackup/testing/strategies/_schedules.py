"""Strategies for Cloud Backup schedules: Quartz cron expressions, ISO 8601 durations and
``I|…`` / ``C|…`` schedule strings, valid and invalid."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..._domain.cron import MAX_YEAR, MIN_YEAR
from ..._domain.schedule import MAX_START

__all__ = [
    "cron_expressions",
    "durations",
    "invalid_cron_expressions",
    "invalid_durations",
    "invalid_schedules",
    "schedules",
]

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _case(text: str) -> st.SearchStrategy[str]:
    """``text`` in upper, lower or title case (Quartz names are case-insensitive)."""
    return st.sampled_from((text, text.lower(), text.title()))


def _numeric_field(low: int, high: int, max_step: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    span = st.tuples(number, number).map(lambda ab: f"{ab[0]}-{ab[1]}")
    stepped_span = st.tuples(number, number, st.integers(1, high - low + 1)).map(
        lambda abs_: f"{abs_[0]}-{abs_[1]}/{abs_[2]}"
    )
    start_step = st.tuples(number, st.integers(1, max_step)).map(lambda ns: f"{ns[0]}/{ns[1]}")
    star_step = st.integers(1, max_step).map(lambda step: f"*/{step}")
    item = st.one_of(single, span, stepped_span, start_step, star_step)
    listed = st.lists(st.one_of(single, span), min_size=2, max_size=4).map(",".join)
    return st.one_of(st.just("*"), item, listed)


def _months() -> st.SearchStrategy[str]:
    name = st.sampled_from(_MONTH_NAMES).flatmap(_case)
    names = st.tuples(name, name).map(lambda ab: f"{ab[0]}-{ab[1]}")
    return st.one_of(_numeric_field(1, 12, 12), name, names)


def _days_of_month() -> st.SearchStrategy[str]:
    last = st.one_of(
        st.just("L"),
        st.just("LW"),
        st.integers(0, 30).map(lambda n: f"L-{n}"),
        st.integers(0, 30).map(lambda n: f"L-{n}W"),
    )
    weekday = st.integers(1, 31).map(lambda n: f"{n}W")
    return st.one_of(_numeric_field(1, 31, 31), last, weekday)


def _days_of_week() -> st.SearchStrategy[str]:
    name = st.sampled_from(_DAY_NAMES).flatmap(_case)
    day = st.one_of(st.integers(1, 7).map(str), name)
    return st.one_of(
        _numeric_field(1, 7, 7),
        day,
        st.tuples(name, name).map(lambda ab: f"{ab[0]}-{ab[1]}"),
        st.just("L"),
        day.map(lambda d: f"{d}L"),
        st.tuples(day, st.integers(1, 5)).map(lambda dk: f"{dk[0]}#{dk[1]}"),
    )


def _years(min_year: int) -> st.SearchStrategy[str]:
    year = st.integers(min_year, MAX_YEAR)
    return st.one_of(
        st.just("*"),
        year.map(str),
        st.tuples(year, st.integers(0, 20)).map(
            lambda ys: f"{ys[0]}-{min(MAX_YEAR, ys[0] + ys[1])}"
        ),
        st.tuples(year, st.integers(1, 10)).map(lambda ys: f"{ys[0]}/{ys[1]}"),
    )


@st.composite
def _cron(draw: st.DrawFn, with_year: bool | None, min_year: int) -> str:
    fields = [
        draw(_numeric_field(0, 59, 59)),
        draw(_numeric_field(0, 59, 59)),
        draw(_numeric_field(0, 23, 23)),
    ]
    by_week = draw(st.booleans())
    dom = "?" if by_week else draw(_days_of_month())
    dow = draw(_days_of_week()) if by_week else "?"
    fields += [dom, draw(_months()), dow]
    if with_year is True or (with_year is None and draw(st.booleans())):
        fields.append(draw(_years(min_year)))
    separators = draw(
        st.lists(st.sampled_from((" ", "  ", "\t")), min_size=len(fields), max_size=len(fields))
    )
    return "".join(f"{sep}{field}" for sep, field in zip(separators, fields, strict=True)).lstrip(
        " \t"
    )


def cron_expressions(
    *, with_year: bool | None = None, min_year: int = MIN_YEAR
) -> st.SearchStrategy[str]:
    """Valid Quartz cron expressions (6 or 7 fields, every special form, names in any case).

    Args:
        with_year: ``True``/``False`` for expressions with or without the year field; either by
            default.
        min_year: The smallest year a year field names (pass a recent year to keep fire times
            near the present).
    """
    if with_year is not None and not isinstance(with_year, bool):
        raise InvalidArgument(f"with_year={with_year!r} must be a bool or None.")
    if isinstance(min_year, bool) or not isinstance(min_year, int):
        raise InvalidArgument(f"min_year={min_year!r} must be an int.")
    if not MIN_YEAR <= min_year <= MAX_YEAR:
        raise InvalidArgument(f"min_year={min_year!r} must be within {MIN_YEAR}..{MAX_YEAR}.")
    return _cron(with_year, min_year)


def invalid_cron_expressions() -> st.SearchStrategy[str]:
    """Cron expressions ``parse_cron`` refuses (code ``BadRequest``): a field out of range, both
    or neither day field ``?``, too few or too many fields, a bad step, name or character."""
    valid = cron_expressions(with_year=False)
    fields = valid.map(lambda text: text.split())
    broken_value = st.tuples(fields, st.integers(0, 5), st.sampled_from(("60", "99", "-1", "X")))
    replaced = broken_value.map(lambda f: [*f[0][: f[1]], f[2], *f[0][f[1] + 1 :]])
    return st.one_of(
        replaced.filter(lambda f: not (f[3] == "?" or f[5] == "?") or "X" in f).map(" ".join),
        fields.map(lambda f: " ".join([*f[:3], "?", f[4], "?"])),
        fields.map(lambda f: " ".join([*f[:3], "*", f[4], "*"])),
        fields.map(lambda f: " ".join(f[:5])),
        fields.map(lambda f: " ".join([*f, "*", "*"])),
        fields.map(lambda f: " ".join(["*/0", *f[1:]])),
        fields.map(lambda f: " ".join(["0/60", *f[1:]])),
        fields.map(lambda f: " ".join([*f[:4], "FOO", f[5]])),
        fields.map(lambda f: " ".join(f) + " 1969"),
        fields.map(lambda f: " ".join(f) + "\n"),
        st.just(""),
        st.text(max_size=20).filter(lambda t: len(t.split()) < 6),
    )


def durations(*, calendar: bool | None = None, max_value: int = 400) -> st.SearchStrategy[str]:
    """Valid interval durations for ``I|`` schedules: positive whole ISO 8601 durations.

    Args:
        calendar: ``True`` for durations with years, months, weeks or days; ``False`` for hours,
            minutes and seconds only; either by default.
        max_value: The largest number in any one component.
    """
    if calendar is not None and not isinstance(calendar, bool):
        raise InvalidArgument(f"calendar={calendar!r} must be a bool or None.")
    if isinstance(max_value, bool) or not isinstance(max_value, int) or max_value < 1:
        raise InvalidArgument(f"max_value={max_value!r} must be a positive int.")
    part = st.integers(0, max_value)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        with_calendar = draw(st.booleans()) if calendar is None else calendar
        if with_calendar and draw(st.booleans()):
            return f"P{draw(st.integers(1, max_value))}W"
        years, months, days = (draw(part), draw(part), draw(part)) if with_calendar else (0, 0, 0)
        hours, minutes, seconds = draw(part), draw(part), draw(part)
        if with_calendar and not (years or months or days):
            days = draw(st.integers(1, max_value))
        if not with_calendar and not (hours or minutes or seconds):
            hours = draw(st.integers(1, max_value))
        date = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
        time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
        return f"P{date}" + (f"T{time}" if time else "")

    return build()


def invalid_durations() -> st.SearchStrategy[str]:
    """Strings ``parse_duration`` refuses (code ``BadRequest``): no ``P``, weeks mixed with
    other units, signs inside, units out of order or without ``T``, lowercase, garbage."""
    number = st.integers(1, 99)
    return st.one_of(
        number.map(lambda n: f"{n}D"),
        number.map(lambda n: f"P{n}W{n}D"),
        number.map(lambda n: f"P-{n}D"),
        number.map(lambda n: f"P{n}H"),
        number.map(lambda n: f"PT{n}S{n}H"),
        number.map(lambda n: f"P{n}D{n}Y"),
        number.map(lambda n: f"p{n}d"),
        number.map(lambda n: f"P{n}DT"),
        number.map(lambda n: f"P{n}.{n}D{n}H"),
        st.sampled_from(("", "P", "PT", "PTT", "P1", "P1X", "bad", "P1D ", " P1D", "P１D")),
    )


def schedules(
    *,
    kinds: st.SearchStrategy[str] | None = None,
    min_start: int = 0,
    max_start: int = MAX_START,
) -> st.SearchStrategy[str]:
    """Valid schedule strings: ``I|{start}|{duration}`` and ``C|{start}|{cron}``.

    Args:
        kinds: A strategy of ``"I"`` / ``"C"``; both by default.
        min_start: The earliest start (UNIX seconds).
        max_start: The latest start (UNIX seconds, at most the end of 2199).
    """
    for name, value in (("min_start", min_start), ("max_start", max_start)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{name}={value!r} must be an int.")
    if not 0 <= min_start <= max_start <= MAX_START:
        raise InvalidArgument(
            f"need 0 <= min_start <= max_start <= {MAX_START}, got {min_start}, {max_start}."
        )
    if kinds is None:
        kinds = st.sampled_from(("I", "C"))
    elif not isinstance(kinds, st.SearchStrategy):
        raise InvalidArgument(f"kinds={kinds!r} must be a strategy of 'I' or 'C'.")
    start = st.integers(min_start, max_start)

    def body(kind: str) -> st.SearchStrategy[str]:
        if kind == "I":
            return durations()
        if kind == "C":
            return cron_expressions()
        raise InvalidArgument(f"kinds must generate 'I' or 'C', not {kind!r}.")

    return st.tuples(kinds, start).flatmap(
        lambda ks: body(ks[0]).map(lambda text: f"{ks[0]}|{ks[1]}|{text}")
    )


def invalid_schedules() -> st.SearchStrategy[str]:
    """Schedule strings ``parse_schedule`` refuses (code ``BadRequest``)."""
    start = st.integers(0, MAX_START)
    return st.one_of(
        invalid_durations().flatmap(lambda d: start.map(lambda s: f"I|{s}|{d}")),
        invalid_cron_expressions().flatmap(lambda c: start.map(lambda s: f"C|{s}|{c}")),
        start.map(lambda s: f"X|{s}|P1D"),
        start.map(lambda s: f"I|-{s + 1}|P1D"),
        start.map(lambda s: f"I| {s}|P1D"),
        start.map(lambda s: f"I|{s}"),
        start.map(lambda s: f"I|{s + MAX_START + 1}|P1D"),
        start.map(lambda s: f"I|{s}|PT0S"),
        start.map(lambda s: f"I|{s}|P1.5M"),
        start.map(lambda s: f"I|{s}|-P1D"),
        st.sampled_from(("", "I||P1D", "i|0|P1D", "I|1e9|P1D", "I|١٢٣|P1D")),
    )

"""Review 9: defects found in this session's first wave outside Cloud Backup, each with the
test that failed before its fix."""

from __future__ import annotations

import datetime as dt

from dateutil import tz

from cloudbackup import parse_schedule

UTC = dt.timezone.utc
LOS_ANGELES = tz.gettz("America/Los_Angeles")


def test_a_cron_fires_on_the_last_evening_of_2199_west_of_utc() -> None:
    """The horizon is the end of 2199 on the region's wall clock: 22:00 on 31 December 2199
    in Los Angeles (06:00 UTC in 2200) still fires after the 20:00 run."""
    schedule = parse_schedule("C|0|0 0 20,22 * * ?")
    assert LOS_ANGELES is not None
    after_eight = dt.datetime(2200, 1, 1, 4, tzinfo=UTC)  # 2199-12-31 20:00 PST
    expected = dt.datetime(2200, 1, 1, 6, tzinfo=UTC)  # 2199-12-31 22:00 PST
    assert expected == schedule.next_after(after_eight, LOS_ANGELES)
    assert None is schedule.next_after(expected, LOS_ANGELES)

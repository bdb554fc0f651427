"""Repeated warnings are logged once per interval, with a count of the ones dropped."""

import logging

from webapp.logs import RepeatFilter


def _record(msg, *args, name="waitress.queue", level=logging.WARNING):
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_flood_of_one_warning_becomes_one_line_per_interval_with_a_count():
    now = [0.0]
    repeat = RepeatFilter(60, clock=lambda: now[0])
    passed = []
    for i in range(128_306):
        now[0] = i * 540 / 128_306  # 128,306 warnings in 9 minutes, as in the issue
        record = _record("Task queue depth is %d", i % 50)
        if repeat.filter(record):
            passed.append(record.getMessage())
    assert len(passed) == 9
    assert passed[0] == "Task queue depth is 0"
    assert "similar messages suppressed in the last 60 s" in passed[1]
    total = sum(int(m.split("(")[1].split(" ")[0].replace(",", "")) for m in passed[1:])
    # the last interval's count is told with the next line after it
    assert total + len(passed) < 128_306 and total == 8 * 14_256


def test_different_messages_and_loggers_are_kept_apart():
    repeat = RepeatFilter(60, clock=lambda: 0.0)
    assert repeat.filter(_record("a")) and repeat.filter(_record("b")) and repeat.filter(_record("a", name="x"))
    assert not repeat.filter(_record("a"))

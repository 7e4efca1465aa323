"""Kubeflow's six-field cron (seconds first), checked before it reaches the server."""

from __future__ import annotations

import re

# (name, lowest, highest) of each field, in order; "0 0 2 * * *" is 02:00 every day.
FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 6))
_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "sun", "mon", "tue", "wed", "thu", "fri", "sat"}
_TOKEN = re.compile(r"^(\*|\?|[0-9]+|[a-z]{3})(-([0-9]+|[a-z]{3}))?(/[0-9]+)?$")


class CronError(ValueError):
    pass


def validate(expression: str) -> str:
    fields = expression.split()
    if len(fields) != 6:
        raise CronError(f"cron {expression!r} has {len(fields)} fields; Kubeflow wants 6, seconds first "
                        "(e.g. '0 0 2 * * *' for 02:00 daily)")
    for text, (name, low, high) in zip(fields, FIELDS):
        for part in text.lower().split(","):
            match = _TOKEN.match(part)
            if not match:
                raise CronError(f"cron {expression!r}: {name} field {text!r} is not valid")
            for value in (match.group(1), match.group(3)):
                if value and value.isdigit() and not low <= int(value) <= high:
                    raise CronError(f"cron {expression!r}: {name} {value} is outside {low}-{high}")
                if value and value.isalpha() and value not in _NAMES:
                    raise CronError(f"cron {expression!r}: {name} {value!r} is not a month or weekday name")
    return expression

"""Named crash points for the crash tests: with FIELDBOT_CRASH_AT=<name> the process kills itself there.

Only the crash tests set the variable; unset (always, in production) a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT = "FIELDBOT_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENVIRONMENT) == name:
        os.kill(os.getpid(), signal.SIGKILL)

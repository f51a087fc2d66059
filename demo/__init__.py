"""The demo: the real bot against the Bot API simulator, with a chat in the terminal and synthetic data.

Nothing here is imported by the production bot; `fieldbot demo` and `make run` without a token import it lazily.
"""

from enum import StrEnum
from pathlib import Path

DEFAULT_DATA = Path("data/demo")
# In the data folder: the demo's database and its encryption key (`fieldbot --demo ...` reads them too).
DATABASE = "fieldbot.sqlite3"
KEY_FILE = "encryption.key"


class Messenger(StrEnum):
    """Where the demo's chat happens (`fieldbot demo --messenger`)."""

    TELEGRAM = "telegram"
    LINEWORKS = "lineworks"


class DemoError(Exception):
    """A problem that stops the demo: printed as one line."""

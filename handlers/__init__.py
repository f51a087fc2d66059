"""The Telegram edge: each module parses its updates, calls one service and shows the Reply it returns."""

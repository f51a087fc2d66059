"""LINE WORKS Bot API 2.0: a thin client (auth, sends, budget, signatures) and the intake of callbacks into the
inbox (`Listener.add_lineworks`). The message contents are built on the handlers' floor (handlers/lineworks/).
Not wired into the bot yet: the adapter that handles kept events, the settings and the menus come later (issue 18)."""

"""LINE WORKS Bot API 2.0: a thin client (auth, sends, budget, signatures) and the message content builders.
Not wired into the bot yet: the adapter, `serve`'s callback route and the settings come later (issue 18)."""

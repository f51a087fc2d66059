"""The `fieldbot` command line: run the bot or the demo, and the admin tools (reports, imports, keys, audit)."""

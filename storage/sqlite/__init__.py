"""The SQLite engine (aiosqlite): the embedded default. The only place, with other engines, that holds SQL."""

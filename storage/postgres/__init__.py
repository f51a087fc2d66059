"""The PostgreSQL engine (DATABASE_URL=postgresql://...): the same repositories and Protocols as SQLite's."""

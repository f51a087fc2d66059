-- fieldbot schema 17 (PostgreSQL twin of storage/sqlite/migrations/0017_lineworks_users.sql): the LINE WORKS
-- users fieldbot has met. Staff, drafts and reminders name a chat by an integer account number (core/accounts.py);
-- this table turns a LINE WORKS user's number back into the user id a message is sent to.

CREATE TABLE lineworks_users (
    account     BIGINT PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL UNIQUE,
    first_seen  TEXT COLLATE "C" NOT NULL
);

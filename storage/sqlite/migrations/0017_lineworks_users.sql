-- fieldbot schema 17: the LINE WORKS users fieldbot has met. A LINE WORKS user id is a string; staff, drafts and
-- reminders name a chat by an integer account number (core/accounts.py: 62 bits of the id's SHA-256 with bit 62
-- set, never a Telegram id). This table turns a number back into the user id a message is sent to.

CREATE TABLE lineworks_users (
    account     INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL UNIQUE,
    first_seen  TEXT NOT NULL
);

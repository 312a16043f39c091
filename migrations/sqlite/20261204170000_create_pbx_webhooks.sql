-- PBX webhooks: one token per PBX (only its SHA-256 is kept; the optional signing secret
-- is kept as given, since checking an HMAC needs it), numbers refused at newCall, the
-- users' e-mail addresses (a PBX may name the answering agent by e-mail), and a mark on
-- interactions whose start was never reported (created by a later event of the call).

CREATE TABLE pbx_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('ringside', 'zammad', 'sipgate')),
    token_hash TEXT NOT NULL UNIQUE,
    secret TEXT,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);

CREATE TABLE blocked_numbers (
    e164 TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
);

ALTER TABLE users ADD COLUMN email TEXT;
CREATE UNIQUE INDEX users_by_email ON users (email);

ALTER TABLE interactions ADD COLUMN start_unseen INTEGER NOT NULL DEFAULT 0;

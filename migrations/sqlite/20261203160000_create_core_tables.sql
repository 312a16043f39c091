-- Users (agents, supervisors, admins), login sessions, customers with their phone numbers,
-- and the interaction log. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    extension TEXT UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    organisation TEXT,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE customer_phones (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    e164 TEXT NOT NULL,
    original TEXT NOT NULL,
    label TEXT
);

CREATE INDEX customer_phones_by_e164 ON customer_phones (e164);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers (id) ON DELETE SET NULL,
    agent_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    caller_number TEXT,
    called_number TEXT NOT NULL,
    ringing_at_ms INTEGER NOT NULL,
    answered_at_ms INTEGER,
    ended_at_ms INTEGER,
    wait_seconds INTEGER,
    talk_seconds INTEGER,
    outcome TEXT,
    notes TEXT NOT NULL DEFAULT '',
    disposition TEXT,
    updated_at_ms INTEGER NOT NULL
);

CREATE INDEX interactions_by_customer ON interactions (customer_id, ringing_at_ms);

-- A call id names one call while it lasts; PBXs reuse them later, so only open
-- interactions (not yet ended) must be unique per call id.
CREATE UNIQUE INDEX interactions_open_by_call ON interactions (call_id) WHERE ended_at_ms IS NULL;
CREATE INDEX interactions_by_call ON interactions (call_id);

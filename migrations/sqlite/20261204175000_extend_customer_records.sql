-- Customer records in full: organisations as records of their own; typed phone numbers
-- with the extension kept apart and a last-digits key for the trailing-digits match;
-- e-mail addresses; address, language, tags, notes and consents on the customer; a
-- version for refusing stale updates; and a trash (deleted_at_ms). Interactions record
-- which rule matched the caller and whether an agent chose the customer.
--
-- Expand only: customers.organisation stays and is still written with the organisation's
-- name, so the previous release keeps reading it; a later release drops it.

CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER
);

CREATE INDEX organisations_by_name ON organisations (name);

INSERT INTO organisations (name, created_at_ms, updated_at_ms)
    SELECT DISTINCT organisation, 0, 0 FROM customers WHERE organisation IS NOT NULL;

ALTER TABLE customers ADD COLUMN organisation_id INTEGER REFERENCES organisations (id);
ALTER TABLE customers ADD COLUMN external_id TEXT;
ALTER TABLE customers ADD COLUMN street TEXT;
ALTER TABLE customers ADD COLUMN postal_code TEXT;
ALTER TABLE customers ADD COLUMN city TEXT;
ALTER TABLE customers ADD COLUMN country TEXT;
ALTER TABLE customers ADD COLUMN language TEXT;
-- Tags joined by commas (a tag holds no comma).
ALTER TABLE customers ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN notes TEXT NOT NULL DEFAULT '';
-- Each consent: 'granted' or 'refused' (NULL: never asked), when, and where recorded.
ALTER TABLE customers ADD COLUMN consent_phone TEXT;
ALTER TABLE customers ADD COLUMN consent_phone_at_ms INTEGER;
ALTER TABLE customers ADD COLUMN consent_phone_source TEXT;
ALTER TABLE customers ADD COLUMN consent_recording TEXT;
ALTER TABLE customers ADD COLUMN consent_recording_at_ms INTEGER;
ALTER TABLE customers ADD COLUMN consent_recording_source TEXT;
ALTER TABLE customers ADD COLUMN consent_marketing TEXT;
ALTER TABLE customers ADD COLUMN consent_marketing_at_ms INTEGER;
ALTER TABLE customers ADD COLUMN consent_marketing_source TEXT;
ALTER TABLE customers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE customers ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN deleted_at_ms INTEGER;

UPDATE customers SET
    organisation_id = (SELECT MIN(o.id) FROM organisations o WHERE o.name = customers.organisation),
    updated_at_ms = created_at_ms;

CREATE UNIQUE INDEX customers_by_external_id ON customers (external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX customers_by_organisation ON customers (organisation_id);
CREATE INDEX customers_by_name ON customers (name);
CREATE INDEX customers_in_trash ON customers (deleted_at_ms) WHERE deleted_at_ms IS NOT NULL;

-- label was free text; it now holds the kind (work, mobile, home, fax, other).
UPDATE customer_phones SET label = 'other'
    WHERE label IS NULL OR label NOT IN ('work', 'mobile', 'home', 'fax', 'other');
ALTER TABLE customer_phones ADD COLUMN extension TEXT;
-- The last six digits of the E.164 number: the trailing-digits match looks these up.
ALTER TABLE customer_phones ADD COLUMN last_digits TEXT NOT NULL DEFAULT '';
UPDATE customer_phones SET last_digits = substr(e164, -6);

CREATE INDEX customer_phones_by_customer ON customer_phones (customer_id);
CREATE INDEX customer_phones_by_last_digits ON customer_phones (last_digits);

CREATE TABLE customer_emails (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    address TEXT NOT NULL
);

CREATE INDEX customer_emails_by_customer ON customer_emails (customer_id);
CREATE INDEX customer_emails_by_address ON customer_emails (address);

ALTER TABLE interactions ADD COLUMN matched_by TEXT;
-- The user who chose this interaction's customer (from a shared number's list, or by
-- creating the record from an unknown caller's pop); NULL when the lookup chose.
ALTER TABLE interactions ADD COLUMN customer_chosen_by INTEGER REFERENCES users (id) ON DELETE SET NULL;

CREATE INDEX interactions_chosen_by_caller ON interactions (caller_number, ringing_at_ms)
    WHERE customer_chosen_by IS NOT NULL;

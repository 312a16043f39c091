-- The call a transferred call continues: the Call-ID of the call it was transferred
-- from, so the interaction log keeps the chain of one customer's call across agents.
ALTER TABLE interactions ADD COLUMN transferred_from TEXT;

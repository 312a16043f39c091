-- The queue a PBX webhook said the call waited in (Zammad `queue`, Ringside `queue`),
-- so the interaction log can tell the queues' calls apart.
ALTER TABLE interactions ADD COLUMN queue TEXT;

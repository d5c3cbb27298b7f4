-- Per-email records of a contact's activity move out of `state` into their own column.
-- Only ingest needs them (an event updates its email's record); the daily re-score reads
-- `state` alone, which is about half the bytes to decode for every contact.
-- Rows written before this migration keep their records inside `state` (NULL here); the next
-- ingest for the contact splits them. Both shapes load the same.
ALTER TABLE contact_activity ADD COLUMN sends TEXT;

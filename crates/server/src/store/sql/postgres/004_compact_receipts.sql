-- Mirrors sql/004_compact_receipts.sql: on PostgreSQL the receipts were keyed by the device
-- number from the start (001_init.sql), so there is nothing to move. Kept so that both backends
-- count the same versions.
SELECT 1;

-- Mirrors sql/002_trainer_pins.sql.
ALTER TABLE users ADD COLUMN pin_hash TEXT;

-- Trainers sign in on kiosks with a PIN too (to open a class and attest attendance): the same
-- verifier form as learners' (hearth_protocol::pin), handed out in kiosk rosters.
ALTER TABLE users ADD COLUMN pin_hash TEXT;

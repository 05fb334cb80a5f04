-- Schema 6: what a kiosk needs for trainer mode.

-- The classes of the roster's people, as the service's roster names them: a learner's class (none
-- or one), the classes a trainer runs. A kiosk lets a trainer open only their own classes. The
-- whole table is replaced with each roster that carries classes.
CREATE TABLE roster_classes (
    person BLOB NOT NULL,           -- 16-byte UUID of a roster person (learners.id)
    class_id TEXT NOT NULL,         -- the class's UUID, hyphenated
    class_name TEXT NOT NULL,
    PRIMARY KEY (person, class_id)
) STRICT;

-- An assignment a trainer made on this kiosk is kept at once, before the service knows it. It
-- names the receipt that made it, so a pull from the service does not drop it until that receipt
-- is acknowledged (the service's copy, with the same id, replaces it then). NULL: pulled.
ALTER TABLE assignments ADD COLUMN local_seq INTEGER;

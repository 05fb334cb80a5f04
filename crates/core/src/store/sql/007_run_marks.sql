-- Schema 7: how long each app run is known to have lasted. Every receipt (and every exam check)
-- raises its run's mark to the monotonic time it was made at, so after a restart the time an
-- exam already ran in earlier runs is known without trusting the wall clock, which the user can
-- set back across the restart (issue #16).
CREATE TABLE run_marks (
    run INTEGER PRIMARY KEY,        -- the app run (device.last_run when it started)
    mono_ms INTEGER NOT NULL        -- the latest monotonic time seen in it, ms since it started
) STRICT;

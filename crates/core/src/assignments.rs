//! Assignments: what trainers asked the classes this device serves to do, pulled from the
//! service with every sync and kept for offline use (a course page shows what is due).

use crate::store::Assignment;
use crate::{Changes, Hearth, Result};

impl Hearth {
    /// The assignments last pulled from the service, soonest due first.
    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        self.store.assignments()
    }

    /// Keeps the service's current list (it replaces what was kept before).
    pub fn apply_assignments(&mut self, list: &[Assignment]) -> Result<Changes> {
        Ok(self.store.write(|tx| tx.replace_assignments(list))?.1)
    }
}

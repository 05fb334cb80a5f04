//! Test helper for the crash test (tests/crash.rs): opens the data folder given as the first
//! argument and appends receipts forever. After each append returns it prints `SEQ ID` on a line
//! of its own and flushes: a printed line is a receipt the app would have shown as recorded.
//! The test kills this process with SIGKILL at random moments.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use hearth_core::{Env, Hearth};
use hearth_protocol::{CourseId, Event, LessonId};

fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: crash-appender DATA_DIR")?,
    );
    let mut hearth = Hearth::open(&dir, Env::system())?;
    let learner = match hearth.learners()?.into_iter().next() {
        Some(l) => l.id,
        None => hearth.add_learner("崩溃测试")?.id,
    };
    // The learner at the keyboard (signing in is a receipt of its own, printed like the others).
    let signed = hearth.sign_in(learner)?;
    let course = CourseId::new("electrician-safety")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "ready")?;
    writeln!(out, "{} {}", signed.seq, signed.id)?;
    out.flush()?;
    for n in 0u32.. {
        let lesson = LessonId::new(format!("lesson-{}", n % 7))?;
        let r = hearth.record(Event::ActiveStudy {
            course: course.clone(),
            lesson,
            active_ms: 1_000 + n,
        })?;
        writeln!(out, "{} {}", r.seq, r.id)?;
        out.flush()?;
    }
    Ok(())
}

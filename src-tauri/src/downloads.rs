//! Course downloads in the background: hearth-core's `Downloader::fetch` runs without holding
//! the store, reports progress into this table and to the UI as the [`DOWNLOAD_EVENT`] event
//! (at most every [`EMIT_EVERY`], and on every change of state), and the fetched course is
//! installed under the lock at the end. Pausing cancels the task; the partial files stay in the
//! cache and the next start resumes them (HTTP Range), so resume is simply "start again".

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use hearth_core::content::{DownloadOptions, HttpSource, Progress};
use hearth_protocol::{CourseId, ErrorBody};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::{CommandError, HearthState};

/// The event that carries one download's `DownloadView` to the UI.
pub const DOWNLOAD_EVENT: &str = "download-progress";

/// The shortest time between two progress events of one download.
pub const EMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Sends a download's view to the UI (a closed window is no error).
fn emit<R: Runtime>(app: &AppHandle<R>, view: Option<DownloadView>) {
    if let Some(view) = view
        && let Err(error) = app.emit(DOWNLOAD_EVENT, view)
    {
        tracing::debug!(%error, "a download event was not sent");
    }
}

/// Where one course download stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DownloadState {
    Running,
    Paused,
    Failed,
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadView {
    pub course: CourseId,
    pub version: u32,
    pub state: DownloadState,
    pub progress: Progress,
    pub error: Option<ErrorBody>,
}

#[derive(Debug)]
struct Job {
    view: DownloadView,
    task: Option<tauri::async_runtime::JoinHandle<()>>,
}

/// Every download of this run, by course.
#[derive(Debug, Default)]
pub struct Downloads(Mutex<HashMap<CourseId, Job>>);

impl Downloads {
    fn update(&self, course: &CourseId, f: impl FnOnce(&mut DownloadView)) {
        if let Some(job) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(course)
        {
            f(&mut job.view);
        }
    }

    fn view(&self, course: &CourseId) -> Option<DownloadView> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(course)
            .map(|j| j.view.clone())
    }

    pub fn list(&self) -> Vec<DownloadView> {
        let jobs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = jobs.values().map(|j| j.view.clone()).collect();
        out.sort_by(|a, b| a.course.as_str().cmp(b.course.as_str()));
        out
    }

    /// Starts (or resumes) downloading a course version; a running one is left alone.
    pub fn start<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        course: CourseId,
        version: u32,
    ) -> Result<(), CommandError> {
        let state = app.state::<HearthState>();
        let (downloader, enrollment) = state.with(|h| {
            let d = h.downloader(DownloadOptions::default())?;
            Ok((d, h.enrollment()?))
        })?;
        let enrollment =
            enrollment.ok_or_else(|| CommandError::new("content.not_enrolled", "not enrolled"))?;
        let source = HttpSource::new(&enrollment)?;
        let mut jobs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs
            .get(&course)
            .is_some_and(|j| j.view.state == DownloadState::Running)
        {
            return Ok(());
        }
        let previous = jobs
            .get(&course)
            .map(|j| j.view.progress)
            .unwrap_or_default();
        let handle = app.clone();
        let id = course.clone();
        let task = tauri::async_runtime::spawn(async move {
            let app = handle;
            let downloads = app.state::<Downloads>();
            let mut last_emit: Option<std::time::Instant> = None;
            let mut report = |p: &Progress| {
                downloads.update(&id, |v| v.progress = *p);
                if last_emit.is_none_or(|t| t.elapsed() >= EMIT_EVERY) {
                    last_emit = Some(std::time::Instant::now());
                    emit(&app, downloads.view(&id));
                }
            };
            let fetched = downloader.fetch(&source, &id, version, &mut report).await;
            let result: Result<(), ErrorBody> = match fetched {
                Ok(f) => app
                    .state::<HearthState>()
                    .with(|h| h.install_fetched(&f))
                    .map(|_| ())
                    .map_err(|e| e.0),
                Err(e) => Err(e.to_body()),
            };
            downloads.update(&id, |v| match result {
                Ok(()) => {
                    v.state = DownloadState::Done;
                    v.progress.bytes_done = v.progress.bytes_total;
                    v.progress.eta_ms = Some(0);
                }
                Err(e) => {
                    tracing::warn!(course = %id, code = e.code, message = e.message, "download failed");
                    v.state = DownloadState::Failed;
                    v.error = Some(e);
                }
            });
            emit(&app, downloads.view(&id));
        });
        let view = DownloadView {
            course: course.clone(),
            version,
            state: DownloadState::Running,
            progress: previous,
            error: None,
        };
        jobs.insert(
            course,
            Job {
                view: view.clone(),
                task: Some(task),
            },
        );
        drop(jobs);
        emit(app, Some(view));
        Ok(())
    }

    /// Pauses a running download: the task stops at its next await; what arrived stays.
    pub fn pause<R: Runtime>(&self, app: &AppHandle<R>, course: &CourseId) {
        let mut jobs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(job) = jobs.get_mut(course)
            && job.view.state == DownloadState::Running
        {
            if let Some(task) = job.task.take() {
                task.abort();
            }
            job.view.state = DownloadState::Paused;
            job.view.progress.bytes_per_sec = 0;
            job.view.progress.eta_ms = None;
        }
        drop(jobs);
        emit(app, self.view(course));
    }

    /// Forgets a finished, failed or paused download (after removing the course).
    pub fn forget(&self, course: &CourseId) {
        let mut jobs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs
            .get(course)
            .is_some_and(|j| j.view.state != DownloadState::Running)
        {
            jobs.remove(course);
        }
    }
}

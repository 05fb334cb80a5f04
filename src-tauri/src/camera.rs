//! The webcam for photo checkpoints (issue #17): the window may use `getUserMedia({video: true})`
//! only while the shell has asked for a capture.
//!
//! - [`CameraGate`] is the shell's switch. Shell code that has decided a photo is due (a photo
//!   checkpoint with the learner's consent and the organisation's policy) calls
//!   [`CameraGate::arm`]; that allows **one** camera permission request within [`ARM_FOR`].
//!   The page cannot arm it (no command does), so a page that calls `getUserMedia` on its own
//!   is refused.
//! - [`decide_permission`] answers every permission request of the web view (Tauri's
//!   `on_permission_request`: WebKitGTK's `permission-request` signal on Linux, WebView2's
//!   `PermissionRequested` event on Windows): the camera only while armed, and everything else
//!   (the microphone, screen capture, geolocation, notifications, …) denied.
//! - [`enable_in_window`] switches WebKitGTK's media stream support on for the main window (off
//!   by default there), and with [`FAKE_CAMERA_ENV`]`=1` its mock capture devices: a synthetic
//!   camera for the GUI tests under Xvfb, which have no webcam.
//!
//! What WebKitGTK (2.50) does not ask the shell about: with mock capture devices on, WebKit
//! grants `getUserMedia` itself without emitting `permission-request` (its
//! `MockCaptureDevicesPromptEnabled` preference is off; WebKitGTK 2.42's feature API could set
//! it, but the webkit2gtk 2.0 bindings do not cover it and calling it directly needs `unsafe`), and a page under WebDriver automation is granted by the automation session. Neither
//! reaches a real camera: mock devices replace the real ones, and automation exists only in
//! tests. So the gate decides for real cameras in real use; the GUI test (`gui_camera`) shows the
//! capture, and the unit tests below the gate's decisions.
//!
//! Windows (not tested here): WebView2 supports `getUserMedia` and raises `PermissionRequested`
//! with kind Camera; wry maps it to the same [`decide_permission`], so the same gate applies.
//! WebView2 has no mock capture devices; a test there needs a virtual camera driver.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tauri::webview::{PermissionKind, PermissionResponse};
use tauri::{Manager, Runtime};

/// `HEARTH_FAKE_CAMERA=1`: the web view gets WebKitGTK's synthetic camera instead of the real
/// ones (GUI tests under Xvfb). Never set it for real learners: the photos would be a test
/// pattern.
pub const FAKE_CAMERA_ENV: &str = "HEARTH_FAKE_CAMERA";

/// How long an armed gate waits for the window's camera request.
pub const ARM_FOR: Duration = Duration::from_secs(20);

/// Whether the synthetic camera is on ([`FAKE_CAMERA_ENV`] is `1`).
pub fn fake_camera() -> bool {
    std::env::var(FAKE_CAMERA_ENV).is_ok_and(|v| v == "1")
}

/// The shell's switch for the camera: armed by the shell for one permission request.
#[derive(Debug, Default)]
pub struct CameraGate {
    armed_until: Mutex<Option<Instant>>,
}

impl CameraGate {
    /// Allows one camera permission request within [`ARM_FOR`] from now. Call it only from shell
    /// code that has decided a capture is due (never from a command the page can call freely).
    pub fn arm(&self) {
        self.arm_at(Instant::now());
    }

    /// [`arm`](Self::arm) at a given instant (tests).
    pub fn arm_at(&self, now: Instant) {
        *self.lock() = Some(now + ARM_FOR);
    }

    /// Withdraws an unused arm (the capture was cancelled).
    pub fn disarm(&self) {
        *self.lock() = None;
    }

    /// Whether a camera request may be allowed at `now`; an allowed request uses the arm up, so
    /// the next one is refused until the shell arms the gate again.
    pub fn take_at(&self, now: Instant) -> bool {
        let mut armed = self.lock();
        match armed.take() {
            Some(until) => now <= until,
            None => false,
        }
    }

    /// The answer to a permission request of `kind` at `now`: the camera while armed, nothing
    /// else ever.
    pub fn decide_at(&self, kind: PermissionKind, now: Instant) -> PermissionResponse {
        let allowed = matches!(kind, PermissionKind::Camera) && self.take_at(now);
        if allowed {
            tracing::info!(
                ?kind,
                "camera permission allowed for the capture the shell asked for"
            );
            PermissionResponse::Allow
        } else {
            tracing::warn!(?kind, "web view permission request denied");
            PermissionResponse::Deny
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // The value is a plain instant: a panic elsewhere cannot leave it half-written.
        self.armed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The web view's permission handler (`tauri::Builder::on_permission_request`).
pub fn decide_permission<R: Runtime>(
    webview: tauri::Webview<R>,
    kind: PermissionKind,
) -> PermissionResponse {
    match webview.try_state::<CameraGate>() {
        Some(gate) => gate.decide_at(kind, Instant::now()),
        None => PermissionResponse::Deny,
    }
}

/// Switches the main window's media stream support on (and the synthetic camera in test mode).
/// Linux only: WebView2 has getUserMedia on by default.
pub fn enable_in_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    #[cfg(target_os = "linux")]
    {
        let Some(window) = app.get_webview_window("main") else {
            tracing::warn!("no main window: the camera stays off");
            return;
        };
        let fake = fake_camera();
        let result = window.with_webview(move |webview| {
            use webkit2gtk::{SettingsExt as _, WebViewExt as _};
            let Some(settings) = webview.inner().settings() else {
                tracing::warn!("the web view has no settings: the camera stays off");
                return;
            };
            settings.set_enable_media_stream(true);
            settings.set_enable_mock_capture_devices(fake);
            if fake {
                tracing::warn!("{FAKE_CAMERA_ENV}=1: the camera is WebKitGTK's synthetic one");
            }
        });
        if let Err(error) = result {
            tracing::warn!(%error, "the camera could not be switched on");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_is_refused_until_the_shell_arms_it() {
        let gate = CameraGate::default();
        let now = Instant::now();
        assert_eq!(
            gate.decide_at(PermissionKind::Camera, now),
            PermissionResponse::Deny
        );
        gate.arm_at(now);
        assert_eq!(
            gate.decide_at(PermissionKind::Camera, now + Duration::from_secs(1)),
            PermissionResponse::Allow
        );
    }

    #[test]
    fn one_arm_allows_one_request() {
        let gate = CameraGate::default();
        let now = Instant::now();
        gate.arm_at(now);
        assert_eq!(
            gate.decide_at(PermissionKind::Camera, now),
            PermissionResponse::Allow
        );
        assert_eq!(
            gate.decide_at(PermissionKind::Camera, now),
            PermissionResponse::Deny
        );
    }

    #[test]
    fn an_arm_expires() {
        let gate = CameraGate::default();
        let now = Instant::now();
        gate.arm_at(now);
        assert_eq!(
            gate.decide_at(
                PermissionKind::Camera,
                now + ARM_FOR + Duration::from_millis(1)
            ),
            PermissionResponse::Deny
        );
        gate.arm_at(now);
        gate.disarm();
        assert_eq!(
            gate.decide_at(PermissionKind::Camera, now),
            PermissionResponse::Deny
        );
    }

    #[test]
    fn nothing_but_the_camera_is_ever_allowed() {
        let gate = CameraGate::default();
        let now = Instant::now();
        for kind in [
            PermissionKind::Microphone,
            PermissionKind::DisplayCapture,
            PermissionKind::Geolocation,
            PermissionKind::Notifications,
            PermissionKind::Other,
        ] {
            gate.arm_at(now);
            assert_eq!(
                gate.decide_at(kind, now),
                PermissionResponse::Deny,
                "{kind:?}"
            );
        }
    }
}

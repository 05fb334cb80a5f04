// The one module the UI imports to talk to Rust. The commands and every type they carry are
// generated from their one declaration in Rust (`src-tauri/src/lib.rs`'s generate_handler! and the
// functions it names) into ./generated/bindings.ts by tools/bindings; `make test` fails while that
// file is stale (`HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings` rewrites it). Every
// failure of a command becomes an ApiError with a stable code (./ipc.ts).

import { listen } from "@tauri-apps/api/event";
import { inTauri } from "./ipc";

export * from "./generated/bindings";
import type {
  AttestationJson,
  DeviceView,
  DownloadView,
  KioskView,
  SyncView,
  ErrorBody,
  ExamItemView,
  ExamView,
  WithheldCredit,
} from "./generated/bindings";

/** Names the UI has used for types whose Rust names say where they come from. */
export type Device = DeviceView;
export type Attestation = AttestationJson;
export type ErrorBodyView = ErrorBody;
export type Exam = ExamView;
export type ExamItem = ExamItemView;
export type WithheldView = WithheldCredit;

/** The service's exam statuses (`ExamResult.status`), each with a message `examService.<code>`. */
export const EXAM_SERVICE_STATUSES = [
  "exam.graded",
  "exam.over_time",
  "exam.not_started",
  "exam.attempts_exceeded",
  "exam.unknown",
  "exam.started",
] as const;

/** What completing a course can still need (`CourseProgress.missing`). */
export const COMPLETION_CODES = [
  "completion.hours",
  "completion.lessons",
  "completion.media",
  "completion.exam",
  "completion.not_published",
] as const;

/** The credit rules' codes, each with a message `withheld.<code>`. */
export const WITHHELD_CODES = [
  "credit.no_anchor",
  "credit.outside_provable_time",
  "credit.run_overlap",
  "credit.overlap",
  "credit.already_counted",
  "credit.daily_cap",
  "media.too_fast",
  "kiosk.not_signed_in",
  "device.flagged",
  "time.impossible",
  "attestation.not_counted",
  "credit.unknown_lesson",
  "exam.attempts_exceeded",
  "credit.check_missed",
  "credit.check_wrong",
  "credit.card_unverified",
] as const;

/** The events the shell pushes (src-tauri: sync.rs, downloads.rs, kiosk_commands.rs). */
export const EVENTS = {
  sync: "sync-status",
  download: "download-progress",
  kiosk: "kiosk-status",
} as const;

/** Calls `handler` with each payload of `event` until the returned function is called. Outside
 * the app (unit tests, a plain browser) nothing arrives. */
function on<T>(event: string, handler: (payload: T) => void): () => void {
  if (!inTauri()) return () => undefined;
  let stop: (() => void) | null = null;
  let stopped = false;
  listen<T>(event, (e) => handler(e.payload))
    .then((unlisten) => {
      if (stopped) unlisten();
      else stop = unlisten;
    })
    .catch(() => undefined);
  return () => {
    stopped = true;
    stop?.();
  };
}

export const events = {
  /** The sync bar's state, on every change of the background sync. */
  onSync: (handler: (view: SyncView) => void) => on<SyncView>(EVENTS.sync, handler),
  /** One download's progress (at most 4 times a second) and every change of its state. */
  onDownload: (handler: (view: DownloadView) => void) => on<DownloadView>(EVENTS.download, handler),
  /** The kiosk's state when it changed behind the window's back (idle sign-out). */
  onKiosk: (handler: (view: KioskView) => void) => on<KioskView>(EVENTS.kiosk, handler),
};

// The one module the UI imports to talk to Rust. The commands and every type they carry are
// generated from their one declaration in Rust (`src-tauri/src/lib.rs`'s generate_handler! and the
// functions it names) into ./generated/bindings.ts by tools/bindings; `make test` fails while that
// file is stale (`HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings` rewrites it). Every
// failure of a command becomes an ApiError with a stable code (./ipc.ts).

export * from "./generated/bindings";
import type {
  AttestationJson,
  DeviceView,
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
] as const;

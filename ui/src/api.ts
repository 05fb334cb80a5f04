// The one module that talks to Rust. Every command of src-tauri/src/commands.rs has one typed
// function here; every failure becomes an ApiError with a stable code.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { ApiError, toErrorBody } from "./lib/errors";

export interface Device {
  id: string;
  /** Ed25519 public key, hex. */
  publicKey: string;
  createdMs: number;
  dataDir: string;
}

export interface Learner {
  id: string;
  displayName: string;
  createdMs: number;
}

export interface RecordedReceipt {
  seq: number;
  id: string;
  learner: string;
  kind: string;
  wallMs: number;
}

export interface ReceiptSummary {
  seq: number;
  id: string;
  learner: string;
  kind: string;
  wallMs: number;
  acknowledged: boolean;
}

export interface LedgerStatus {
  headSeq: number;
  ackedSeq: number;
  pending: number;
}

export interface ErrorBodyView {
  code: string;
  message: string;
}

export interface SyncStatus {
  online: boolean | null;
  syncing: boolean;
  lastSuccessMs: number | null;
  pending: number;
  lastError: ErrorBodyView | null;
}

export interface SyncView {
  enrolled: boolean;
  serviceUrl: string | null;
  orgName: string | null;
  owner: string | null;
  status: SyncStatus;
  pending: number;
}

export interface LessonSummary {
  id: string;
  title: string;
  creditMs: number;
}

export interface CourseSummary {
  course: string;
  version: number;
  title: string;
  description: string;
  language: string;
  totalSize: number;
  installedMs: number;
  lessons: LessonSummary[];
}

export interface CatalogEntry {
  course: string;
  version: number;
  title: string;
  manifestSha256: string;
  manifestSize: number;
  totalSize: number;
  publishedMs: number;
}

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  bytesPerSec: number;
  etaMs: number | null;
}

export type DownloadState = "running" | "paused" | "failed" | "done";

export interface DownloadView {
  course: string;
  version: number;
  state: DownloadState;
  progress: Progress;
  error: ErrorBodyView | null;
}

export interface LibraryView {
  installed: CourseSummary[];
  catalog: CatalogEntry[];
  downloads: DownloadView[];
  usedBytes: number;
  budgetBytes: number;
}

export interface FileRow {
  path: string;
  sha256: string;
  size: number;
  mediaType: string;
  durationMs: number | null;
}

export interface LessonText {
  id: string;
  title: string;
  bodyType: string;
  body: string;
  creditMs: number;
  media: FileRow[];
}

export interface PracticeItem {
  quiz: string;
  id: string;
  prompt: string;
  options: string[];
  multiple: boolean;
}

export type SessionState = "active" | "unfocused" | "awaitingPresence" | "closed";

export interface SessionView {
  learner: string;
  course: string;
  version: number;
  lesson: string;
  state: SessionState;
  countedMs: number;
  idleInMs: number;
  recordedMs: number;
}

export interface MediaProgress {
  furthestMs: number;
  durationMs: number | null;
  finished: boolean;
}

export interface LessonMedia {
  file: FileRow;
  progress: MediaProgress;
  seekLimitMs: number | null;
}

export interface OpenedLesson {
  lesson: LessonText;
  media: LessonMedia[];
  practice: PracticeItem[];
  session: SessionView;
}

export interface SeekCheck {
  allowed: boolean;
  limitMs: number | null;
}

export interface QuizFeedback {
  correct: boolean;
  correctOptions: number[];
  seq: number;
}

export interface ExamSession {
  course: string;
  version: number;
  exam: string;
  title: string;
  attempt: number;
  passPercent: number;
  items: ExamItem[];
  durationMs: number;
  startedWallMs: number;
  deadlineWallMs: number;
  remainingMs: number;
  newAttempt: boolean;
}

export type AttemptStatus = "inProgress" | "waitingForGrading" | "graded" | "expired";

export interface ExamAttemptView {
  course: string;
  exam: string;
  attempt: number;
  status: AttemptStatus;
  startedWallMs: number | null;
  submittedWallMs: number | null;
  answered: number;
  remainingMs: number | null;
  score: number | null;
  maxScore: number | null;
  passed: boolean | null;
  /** The service's status once pulled: `exam.graded` when the attempt counts, else why not
   * (`exam.over_time`, `exam.not_started`, `exam.attempts_exceeded`, `exam.unknown`), or
   * `exam.started` while the service holds no submission. */
  serviceStatus: string | null;
}

/** The service's exam statuses (`ExamResult.status`), each with a message `examService.<code>`. */
export const EXAM_SERVICE_STATUSES = [
  "exam.graded",
  "exam.over_time",
  "exam.not_started",
  "exam.attempts_exceeded",
  "exam.unknown",
  "exam.started",
] as const;

export interface DayStudy {
  day: string;
  activeMs: number;
}

export interface LessonCredit {
  lesson: string;
  creditedMs: number;
  completed: boolean;
}

export interface CourseCredit {
  course: string;
  creditedMs: number;
  completed: boolean;
  lessons: LessonCredit[];
  /** The course's declared study time (0: not said). */
  requiredMs: number;
  /** What the course still needs, each with a message `missing.<code>`. */
  missing: string[];
}

/** What completing a course can still need (`CourseProgress.missing`). */
export const COMPLETION_CODES = [
  "completion.hours",
  "completion.lessons",
  "completion.media",
  "completion.exam",
  "completion.not_published",
] as const;

/** Study the service's rules did not credit, and why. */
export interface WithheldView {
  code: string;
  /** The service's English text, shown when the UI has none for the code. */
  message: string;
  receipts: number;
  ms: number;
}

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

export interface QuizScore {
  course: string;
  quiz: string;
  answered: number;
  correct: number;
}

export interface CertificateView {
  serial: string;
  course: string;
  issuedMs: number;
}

export interface LearnerProgress {
  learner: string;
  creditedMs: number | null;
  recordPulledMs: number | null;
  waitingMs: number;
  localStudyMs: number;
  days: DayStudy[];
  courses: CourseCredit[];
  quizzes: QuizScore[];
  exams: ExamAttemptView[];
  certificates: CertificateView[];
  flaggedReceipts: number;
  withheld: WithheldView[];
}

export interface ExamItem {
  id: string;
  prompt: string;
  options: string[];
  multiple: boolean;
  points: number;
}

export interface Exam {
  id: string;
  title: string;
  durationMin: number;
  passPercent: number;
  items: ExamItem[];
}

export interface Assignment {
  id: string;
  classId: string;
  course: string;
  lesson: string | null;
  exam: string | null;
  dueMs: number | null;
  createdMs: number;
}

export interface Removed {
  files: number;
  bytes: number;
}

// ---- kiosk (a shared classroom machine) ----

export type KioskRole = "learner" | "trainer";

export interface ClassRef {
  id: string;
  name: string;
}

export interface KioskPerson {
  id: string;
  name: string;
  role: KioskRole;
  hasPin: boolean;
  classes: ClassRef[];
}

export interface SignedIn {
  person: string;
  name: string;
  role: KioskRole;
}

export interface ClassExam {
  course: string;
  version: number;
  exam: string;
}

export interface ClassSession {
  class: string;
  name: string;
  trainer: string;
  openedWallMs: number;
  exam: ClassExam | null;
}

/** A mounted removable drive (USB stick) and the Hearth files on it. */
export interface Drive {
  path: string;
  name: string;
  packages: FoundFile[];
  receipts: FoundFile[];
}

export interface FoundFile {
  path: string;
  name: string;
  bytes: number;
}

export interface KioskView {
  active: boolean;
  signedIn: SignedIn | null;
  class: ClassSession | null;
  idleSignOutMs: number;
}

export interface MemberProgress {
  person: string;
  name: string;
  progress: LearnerProgress;
}

export interface ExamResult {
  exam: string;
  attempt: number;
  score: number;
  maxScore: number;
  passed: boolean;
}

export interface CourseRecord {
  course: string;
  creditedMs: number;
  exams: ExamResult[];
  completed: boolean;
}

export interface LearnerRecord {
  learnerId: string;
  name: string;
  creditedMs: number;
  courses: CourseRecord[];
  flaggedReceipts: number;
}

export interface Attestation {
  receiptId: string;
  deviceId: string;
  trainerId: string;
  wallMs: number;
  receivedMs: number;
  present: string[];
}

/** The class across every device, from the service (`GET /v1/classes/{id}/progress`). */
export interface ClassProgress {
  classId: string;
  name: string;
  learners: LearnerRecord[];
  attestations: Attestation[];
}

function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  if (!inTauri()) {
    throw new ApiError("ipc.unavailable", "not running inside the Hearth desktop app");
  }
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    const body = toErrorBody(reason);
    throw new ApiError(body.code, body.message);
  }
}

export const api = {
  deviceInfo: () => call<Device>("device_info"),
  listLearners: () => call<Learner[]>("list_learners"),
  addLearner: (displayName: string) => call<Learner>("add_learner", { displayName }),
  signIn: (learnerId: string) => call<RecordedReceipt>("sign_in", { learnerId }),
  recentReceipts: (limit = 50) => call<ReceiptSummary[]>("recent_receipts", { limit }),
  ledgerStatus: () => call<LedgerStatus>("ledger_status"),
  syncStatus: () => call<SyncView>("sync_status"),
  enroll: (serviceUrl: string, code: string) => call<SyncView>("enroll", { serviceUrl, code }),
  syncNow: () => call<void>("sync_now"),
  currentLearner: () => call<string | null>("current_learner"),
  library: () => call<LibraryView>("library"),
  refreshCatalog: () => call<void>("refresh_catalog"),
  startDownload: (course: string, version: number) => call<void>("start_download", { course, version }),
  pauseDownload: (course: string) => call<void>("pause_download", { course }),
  removeCourse: (course: string, version: number) => call<Removed>("remove_course", { course, version }),
  importCourse: (path: string) => call<CourseSummary>("import_course", { path }),
  setStorageBudget: (bytes: number) => call<void>("set_storage_budget", { bytes }),
  exams: (course: string, version: number) => call<Exam[]>("exams", { course, version }),
  assignments: () => call<Assignment[]>("assignments"),
  mediaBase: () => call<string>("media_base"),
  openLesson: (course: string, version: number, lesson: string) =>
    call<OpenedLesson>("open_lesson", { course, version, lesson }),
  studyActivity: (focused: boolean, input: boolean) => call<SessionView>("study_activity", { focused, input }),
  confirmPresence: () => call<SessionView>("confirm_presence"),
  leaveLesson: () => call<SessionView | null>("leave_lesson"),
  completeLesson: () => call<SessionView>("complete_lesson"),
  checkSeek: (media: string, targetMs: number) => call<SeekCheck>("check_seek", { media, targetMs }),
  mediaWatched: (media: string, fromMs: number, toMs: number) =>
    call<MediaProgress>("media_watched", { media, fromMs, toMs }),
  answerPractice: (course: string, version: number, quiz: string, item: string, choices: number[]) =>
    call<QuizFeedback>("answer_practice", { course, version, quiz, item, choices }),
  startExam: (course: string, version: number, exam: string) =>
    call<ExamSession>("start_exam", { course, version, exam }),
  submitExam: (course: string, exam: string, attempt: number, answers: { item: string; choices: number[] }[]) =>
    call<ExamAttemptView>("submit_exam", { course, exam, attempt, answers }),
  examAttempts: () => call<ExamAttemptView[]>("exam_attempts"),
  examTick: () => call<void>("exam_tick"),
  myProgress: (utcOffsetMin: number) => call<LearnerProgress>("my_progress", { utcOffsetMin }),
  kioskStatus: () => call<KioskView>("kiosk_status"),
  kioskRoster: () => call<KioskPerson[]>("kiosk_roster"),
  kioskSignIn: (person: string, pin: string) => call<SignedIn>("kiosk_sign_in", { person, pin }),
  kioskSignOut: () => call<void>("kiosk_sign_out"),
  kioskInput: () => call<void>("kiosk_input"),
  kioskOpenClass: (classId: string) => call<ClassSession>("kiosk_open_class", { class: classId }),
  kioskAttest: (present: string[]) => call<RecordedReceipt>("kiosk_attest", { present }),
  kioskEndClass: () => call<void>("kiosk_end_class"),
  kioskAssign: (course: string, lesson: string | null, exam: string | null, dueMs: number | null) =>
    call<RecordedReceipt>("kiosk_assign", { course, lesson, exam, dueMs }),
  kioskStartExam: (course: string, version: number, exam: string) =>
    call<RecordedReceipt>("kiosk_start_exam", { course, version, exam }),
  classProgressHere: (utcOffsetMin: number) => call<MemberProgress[]>("class_progress_here", { utcOffsetMin }),
  classProgressService: () => call<ClassProgress>("class_progress_service"),
  exportReceipts: (path: string) => call<number>("export_receipts", { path }),
  removableDrives: () => call<Drive[]>("removable_drives"),
  kioskLeave: () => call<void>("kiosk_leave"),
};

export type Api = typeof api;

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

// The console's only way to the service: fetch on /console/api with the session cookie, and the
// session's anti-forgery token in X-CSRF-Token on every request that changes something.

export interface Person {
  id: string;
  name: string;
  role: "admin" | "trainer" | "supervisor";
  org: string;
  orgName: string;
}

export interface SessionInfo {
  user: Person;
  csrfToken: string | null;
  expiresMs: number | null;
}

export interface Learner {
  id: string;
  name: string;
  nationalId: string;
  classId: string | null;
}

export interface PreviewRow {
  line: number;
  name: string;
  nationalId: string;
  reason: string | null;
  message: string | null;
}

export interface Preview {
  rows: PreviewRow[];
  good: number;
  bad: number;
}

export interface ClassInfo {
  id: string;
  name: string;
  trainerId: string;
  learners: number;
}

export interface Trainer {
  id: string;
  name: string;
}

export interface Code {
  code: string;
  learnerId: string | null;
  name: string | null;
  expiresMs: number;
}

/** A refusal from the service: its stable code and message. */
export class ApiError extends Error {
  constructor(
    public code: string,
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

export async function call<T>(method: string, path: string, body?: BodyInit, type?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (type) headers["content-type"] = type;
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  const res = await fetch(`/console/api/${path}`, {
    method,
    headers,
    body,
    credentials: "same-origin",
  });
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    throw new ApiError(data?.code ?? "http", data?.message ?? res.statusText, res.status);
  }
  return data as T;
}

export const json = (v: unknown) => JSON.stringify(v);

export async function session(): Promise<SessionInfo | null> {
  try {
    const s = await call<SessionInfo>("GET", "session");
    csrf = s.csrfToken;
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signIn(login: string, password: string): Promise<SessionInfo> {
  const s = await call<SessionInfo>("POST", "sign-in", json({ login, password }), "application/json");
  csrf = s.csrfToken;
  return s;
}

export async function signOut(): Promise<void> {
  await call<void>("POST", "sign-out");
  csrf = null;
}

export const learners = () => call<Learner[]>("GET", "learners");

/** A photo kept for an audit request, checked against its photo_taken receipt (docs/privacy.md). */
export interface AuditPhoto {
  receiptId: string;
  sha256: string;
  takenWallMs: number;
  receivedMs: number;
  dataUrl: string;
}
export interface PhotoRequest {
  id: string;
  learnerId: string;
  reason: string;
  requestedMs: number;
  requestedBy: string;
  fulfilledMs: number | null;
  photos: AuditPhoto[];
}
export const photoRequests = (learner: string) =>
  call<PhotoRequest[]>("GET", `learners/${learner}/photos`);
export const requestPhotos = (learner: string, reason: string) =>
  call<{ id: string; requestedMs: number }>("POST", `learners/${learner}/photos`, json({ reason }), "application/json");
export const addLearner = (name: string, nationalId: string, classId: string | null) =>
  call<Learner>("POST", "learners", json({ name, nationalId, classId }), "application/json");

/** The media type the service expects for a roster file. */
export function rosterType(file: { name: string }): string {
  return /\.xlsx$/i.test(file.name)
    ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    : "text/csv";
}

export const previewRoster = (file: File) =>
  call<Preview>("POST", "roster/preview", file, rosterType(file));
export const importRoster = (file: File, classId: string | null) =>
  call<{ imported: number }>(
    "POST",
    `roster/import${classId ? `?classId=${encodeURIComponent(classId)}` : ""}`,
    file,
    rosterType(file),
  );

export const classes = () => call<ClassInfo[]>("GET", "classes");
export const trainers = () => call<Trainer[]>("GET", "trainers");
export const addClass = (name: string, trainerId: string) =>
  call<ClassInfo>("POST", "classes", json({ name, trainerId }), "application/json");
/** Codes for these learners' own PCs, and `kiosks` codes for classroom kiosks serving
 * `kioskClassIds` (a kiosk holds the PIN verifiers of those classes' people only). */
export const issueCodes = (learnerIds: string[], kiosks: number, kioskClassIds: string[] = []) =>
  call<Code[]>("POST", "codes", json({ learnerIds, kiosks, kioskClassIds }), "application/json");

// ----- the supervisor (issue #15) -----

export type GroupBy = "institution" | "course" | "occupation" | "period";
export type Cell = string | number | null;

export interface Column {
  key: string;
  zh: string;
  en: string;
}

/** A table as the supervisor's routes give it (and its exports hold). */
export interface Table {
  title: string;
  columns: Column[];
  rows: Cell[][];
  next: string | null;
}

export interface SupervisionScope {
  code: string;
  name: string;
  regions: string[];
  institutions: { id: string; name: string }[];
}

/** A query string of the defined parameters. */
export function query(params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const supervisorScope = () => call<SupervisionScope>("GET", "supervisor/scope");
export const supervisorStats = (by: GroupBy) => call<Table>("GET", `supervisor/stats${query({ by })}`);
/** The learners behind a row; `flags` (`open`, `resolved` or a kind) keeps those a flag column counts. */
export const supervisorLearners = (by: GroupBy, key: string, after: string | null = null, flags: string | null = null) =>
  call<Table>("GET", `supervisor/learners${query({ by, key, flags, after })}`);
export const supervisorReceipts = (learner: string, after: string | null = null) =>
  call<Table>("GET", `supervisor/learners/${encodeURIComponent(learner)}/receipts${query({ after })}`);
/** A learner's flags with their evidence and resolution (read only). */
export const supervisorFlags = (learner: string) =>
  call<Table>("GET", `supervisor/learners/${encodeURIComponent(learner)}/flags`);

/** The drill-down filter of a statistics column: `flags.open` → `open`; none for the others. */
export const flagFilter = (columnKey: string): string | null =>
  columnKey.startsWith("flags.") ? columnKey.slice("flags.".length) : null;

/** Where the browser downloads a table as a file (a plain GET with the session cookie). */
export function exportUrl(
  table: {
    table: "stats" | "learners" | "receipts" | "flags";
    by?: GroupBy;
    key?: string;
    learner?: string;
    flags?: string | null;
  },
  format: "xlsx" | "csv",
): string {
  return `/console/api/supervisor/export${query({ ...table, format })}`;
}

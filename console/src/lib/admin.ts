// The administrator's and trainer's other pages (issue #15 items 3 and 4): published courses,
// class progress and assignments, certificates, flags. Through api.call like everything else.
import { call, json } from "./api";

export interface Course {
  course: string;
  version: number;
  title: string;
  publishedMs: number;
  occupation?: string;
  occupationName?: string;
  occupationLevel?: number;
}

export interface ExamResult {
  exam: string;
  attempt: number;
  score: number;
  maxScore: number;
  passed: boolean;
  status: string;
}

export interface CourseProgress {
  course: string;
  creditedMs: number;
  requiredMs: number;
  completed: boolean;
  lessons: { lesson: string; completed: boolean }[];
  exams: ExamResult[];
  missing?: string[];
}

export interface LearnerRecord {
  learnerId: string;
  name: string;
  creditedMs: number;
  courses: CourseProgress[];
  certificates: { serial: string; course: string }[];
}

export interface Attestation {
  receiptId: string;
  deviceId: string;
  wallMs: number;
  receivedMs: number;
  present: string[];
  studyingElsewhere?: string[];
}

export interface ClassProgress {
  classId: string;
  name: string;
  learners: LearnerRecord[];
  attestations: Attestation[];
}

export interface Assignment {
  id: string;
  course: string;
  lesson: string | null;
  exam: string | null;
  dueMs: number | null;
  createdMs: number;
}

export interface Certificate {
  serial: string;
  learnerId: string;
  name: string;
  course: string;
  issuedMs: number;
  revokedMs?: number;
  revokedReason?: string;
}

export interface Flag {
  key: string;
  kind: "fork" | "rejected" | "overlap" | "withheld" | "attestation" | "anomaly";
  code: string;
  detail: string;
  deviceId?: string;
  learnerIds: string[];
  names: string[];
  resolution?: { note: string; by: string; byName: string; resolvedMs: number };
}

const id = encodeURIComponent;

export const courses = () => call<Course[]>("GET", "courses");
export const classProgress = (classId: string) =>
  call<ClassProgress>("GET", `classes/${id(classId)}/progress`);
export const assignments = (classId: string) =>
  call<Assignment[]>("GET", `classes/${id(classId)}/assignments`);
export const assign = (
  classId: string,
  a: { course: string; lesson?: string; exam?: string; dueMs?: number },
) => call<Assignment>("POST", `classes/${id(classId)}/assignments`, json(a), "application/json");
/** One kiosk sign-in card of a class's card sheet (issue #17 item 3). */
export interface SignInCard {
  learnerId: string;
  name: string;
  nationalIdMasked: string;
  serial: number;
  /** The QR code's text: a secret, printed only on the card. */
  cardText: string;
  /** The QR code, an SVG image made by the service. */
  qrSvg: string;
}
/** Issues every learner of the class a new sign-in card (their old cards stop working). */
export const issueCards = (classId: string) =>
  call<SignInCard[]>("POST", `classes/${id(classId)}/cards`, json({}), "application/json");
export const certificates = () => call<Certificate[]>("GET", "certificates");
export const certificatePdf = (serial: string) => `/console/api/certificates/${id(serial)}/pdf`;
export const revokeCertificate = (serial: string, reason: string) =>
  call<{ revoked: boolean }>(
    "POST",
    `certificates/${id(serial)}/revoke`,
    json({ reason }),
    "application/json",
  );
export const flags = () => call<Flag[]>("GET", "flags");
export const resolveFlag = (key: string, note: string) =>
  call<Flag>("POST", "flags/resolve", json({ key, note }), "application/json");

/** Hours with one decimal, from ms. */
export const hours = (ms: number) => (ms / 3_600_000).toFixed(1);

/** Under six minutes, minutes with one decimal (so that a short start does not read as 0.0 h). */
export const shortTime = (ms: number): { minutes: string } | null =>
  ms < 360_000 ? { minutes: (ms / 60_000).toFixed(1) } : null;

/** Bars for a chart: each value as a share of the largest (0 when all are 0). */
export function bars(values: number[]): number[] {
  const max = Math.max(0, ...values);
  return values.map((v) => (max > 0 ? v / max : 0));
}

/** A learner's best graded exam score as a share of its maximum, per exam; null when none. */
export function bestExam(r: LearnerRecord): { score: number; max: number; passed: boolean } | null {
  let best: { score: number; max: number; passed: boolean } | null = null;
  for (const c of r.courses) {
    for (const e of c.exams) {
      if (e.status !== "exam.graded" || e.maxScore === 0) continue;
      if (!best || e.score / e.maxScore > best.score / best.max) {
        best = { score: e.score, max: e.maxScore, passed: e.passed };
      }
    }
  }
  return best;
}

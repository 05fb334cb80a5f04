// Why the service did not credit something, in the learner's words: what the rules withheld,
// exam attempts that did not count, and what a course still needs. Codes the UI has no text for
// fall back to the service's English message (or the code itself).
import type { CourseCredit, ExamAttemptView, WithheldView } from "../api";
import { hasMessage, type Translate } from "./i18n";
import { formatStudy } from "./units";

/** One line for a withheld code: the reason, the time and how many records. */
export function withheldLine(w: WithheldView, t: Translate): string {
  const key = `withheld.${w.code}`;
  const reason = hasMessage(key) ? t(key) : w.message || w.code;
  return t("progress.withheldLine", { reason, time: formatStudy(w.ms, t), n: w.receipts });
}

/** The service's status of an exam attempt, as text. */
export function examServiceText(code: string, t: Translate): string {
  const key = `examService.${code}`;
  return hasMessage(key) ? t(key) : code;
}

/** The service graded the attempt but it does not count (so it is neither a pass nor a fail). */
export function notCounted(e: Pick<ExamAttemptView, "serviceStatus">): boolean {
  return e.serviceStatus !== null && e.serviceStatus !== "exam.graded" && e.serviceStatus !== "exam.started";
}

/** Hours still to study for a course, rounded up to a tenth ("0.5"); 0 when unknown. */
export function hoursShort(c: Pick<CourseCredit, "requiredMs" | "creditedMs">): number {
  const ms = Math.max(0, c.requiredMs - c.creditedMs);
  return Math.ceil(ms / 360_000) / 10;
}

/** What a course still needs, one text per missing code. */
export function missingText(code: string, c: CourseCredit, t: Translate): string {
  if (code === "completion.hours") {
    const h = hoursShort(c);
    return h > 0 ? t("missing.completion.hours", { hours: h.toFixed(1) }) : t("progress.hoursShort");
  }
  const key = `missing.${code}`;
  return hasMessage(key) ? t(key) : code;
}

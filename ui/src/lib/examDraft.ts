// Exam answers as a draft while the exam runs: kept in the web view's storage after every click,
// so a crash, a closed lid or a power cut mid-exam does not lose them (the attempt itself, with
// its deadline, is kept by hearth-core and resumes on "start"). The draft is read back only for
// the same learner, course, exam and attempt, and only for items and options the exam has;
// submitting (or the attempt ending) removes it. Pure functions over a Storage, unit-tested.
import type { ExamItem } from "../api";

export type Answers = Record<string, number[]>;

export function draftKey(learner: string, course: string, exam: string, attempt: number): string {
  return `hearth.examDraft.${learner}.${course}.${exam}.${attempt}`;
}

export function saveDraft(storage: Storage | null, key: string, answers: Answers): void {
  try {
    storage?.setItem(key, JSON.stringify(answers));
  } catch {
    // A full or unavailable storage only loses the draft, never the exam.
  }
}

/** The saved answers that still fit the exam's items (anything else in storage is ignored). */
export function loadDraft(storage: Storage | null, key: string, items: ExamItem[]): Answers {
  let raw: unknown;
  try {
    raw = JSON.parse(storage?.getItem(key) ?? "null");
  } catch {
    return {};
  }
  if (typeof raw !== "object" || raw === null) return {};
  const out: Answers = {};
  for (const it of items) {
    const v = (raw as Record<string, unknown>)[it.id];
    if (!Array.isArray(v)) continue;
    const choices = [...new Set(v)].filter(
      (o): o is number => Number.isInteger(o) && o >= 0 && o < it.options.length,
    );
    if (choices.length > 0) out[it.id] = it.multiple ? choices.sort((a, b) => a - b) : choices.slice(0, 1);
  }
  return out;
}

export function clearDraft(storage: Storage | null, key: string): void {
  try {
    storage?.removeItem(key);
  } catch {
    // Nothing to clear.
  }
}

/** The browser's storage, or null where there is none (tests, locked-down profiles). */
export function localStore(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

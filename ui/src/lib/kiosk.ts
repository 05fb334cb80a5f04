// Decisions of the kiosk screens, pure so they are unit-tested: who the sign-in list shows and in
// what order, where a person lands after signing in, how often input is reported, and the PIN pad.
import type { ClassSession, KioskPerson, SignedIn } from "../api";
import type { Screen } from "./app.svelte";

/** Longest PIN the pad accepts (the service sets 4–8 digits). */
export const MAX_PIN = 8;

/** Input is reported to the shell at most this often: the idle limit is minutes long. */
export const INPUT_REPORT_GAP_MS = 5_000;

export interface RosterGroups {
  /** Learners of the open class first (the people most likely at the kiosk), then the rest. */
  learners: KioskPerson[];
  trainers: KioskPerson[];
}

const byName = (a: KioskPerson, b: KioskPerson) => a.name.localeCompare(b.name, "zh-CN");

/** The sign-in list: people with a PIN only (without one nobody can sign in as them), learners
 * of the open class first, names in order, optionally narrowed by a typed filter. */
export function groupRoster(people: KioskPerson[], openClass: string | null, filter = ""): RosterGroups {
  const q = filter.trim().toLowerCase();
  const shown = people.filter((p) => p.hasPin && (q === "" || p.name.toLowerCase().includes(q)));
  const inClass = (p: KioskPerson) => openClass !== null && p.classes.some((c) => c.id === openClass);
  const learners = shown
    .filter((p) => p.role === "learner")
    .sort((a, b) => Number(inClass(b)) - Number(inClass(a)) || byName(a, b));
  const trainers = shown.filter((p) => p.role === "trainer").sort(byName);
  return { learners, trainers };
}

/** Where a person lands after signing in: a trainer in trainer mode; a learner straight into the
 * exam the trainer started for the class, else the library. */
export function landingAfterSignIn(who: SignedIn, session: ClassSession | null): Screen {
  if (who.role === "trainer") return { name: "trainer" };
  if (session?.exam) {
    const { course, version, exam } = session.exam;
    return { name: "exam", course, version, exam };
  }
  return { name: "library" };
}

/** Whether input at `nowMs` should be reported, the last report having been at `lastMs`. */
export function shouldReportInput(lastMs: number | null, nowMs: number, gapMs = INPUT_REPORT_GAP_MS): boolean {
  return lastMs === null || nowMs - lastMs >= gapMs || nowMs < lastMs;
}

/** The PIN after a key of the pad (or the keyboard): digits append up to MAX_PIN, "back" deletes
 * one, "clear" empties; anything else leaves it as it was. */
export function pinAfterKey(pin: string, key: string): string {
  if (key === "back" || key === "Backspace") return pin.slice(0, -1);
  if (key === "clear" || key === "Escape") return "";
  if (/^[0-9]$/.test(key) && pin.length < MAX_PIN) return pin + key;
  return pin;
}

/** The screens a kiosk user may open from the navigation: learners study; trainers also run the
 * class. Settings (service address, storage) stay with the trainer. */
export type KioskTab = "trainer" | "library" | "progress" | "settings";

export function kioskNav(who: SignedIn | null): KioskTab[] {
  if (!who) return [];
  return who.role === "trainer" ? ["trainer", "library", "progress", "settings"] : ["library", "progress"];
}

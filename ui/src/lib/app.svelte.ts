// Shared app state: the current screen, the sync view (pushed by the shell as events), the
// signed-in learner.
import { api, type KioskView, type SyncView } from "../api";

export type Screen =
  | { name: "firstRun" }
  | { name: "library" }
  | { name: "course"; course: string; version: number }
  | { name: "lesson"; course: string; version: number; lesson: string }
  | { name: "exam"; course: string; version: number; exam: string }
  | { name: "progress" }
  | { name: "settings" }
  | { name: "records" }
  | { name: "kioskSignIn" }
  | { name: "trainer" };

/** Set when the learner chose "start offline" on the first-run screen. */
export const OFFLINE_KEY = "hearth.offlineStart";

export const app = $state({
  screen: { name: "library" } as Screen,
  sync: null as SyncView | null,
  learner: null as string | null,
  learnerName: null as string | null,
  /** Kiosk mode on a shared machine (null until first asked, `active: false` on a personal PC). */
  kiosk: null as KioskView | null,
  /** The last failure of a screen, shown in the alert bar. */
  failure: null as unknown,
});

export function go(screen: Screen): void {
  app.failure = null;
  app.screen = screen;
}

export async function refreshSync(): Promise<void> {
  try {
    app.sync = await api.syncStatus();
  } catch (e) {
    app.failure = e;
  }
}

/** Runs a screen action; a failure lands in the alert bar. */
export async function attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    const r = await action();
    app.failure = null;
    return r;
  } catch (e) {
    app.failure = e;
    return undefined;
  }
}

/** Reads the kiosk's state. When the person signed in changed behind the screen's back (idle
 * sign-out, the class ended) the sign-in list comes back. */
export async function refreshKiosk(): Promise<void> {
  try {
    const before = app.kiosk?.signedIn?.person ?? null;
    app.kiosk = await api.kioskStatus();
    if (!app.kiosk.active) return;
    const now = app.kiosk.signedIn;
    app.learner = now?.person ?? null;
    app.learnerName = now?.name ?? null;
    if (before !== null && now?.person !== before) go({ name: "kioskSignIn" });
  } catch (e) {
    app.failure = e;
  }
}

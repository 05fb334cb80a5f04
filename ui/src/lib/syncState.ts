// What the always-visible sync bar says, from the shell's SyncView. Pure, so it is unit-tested.
import type { SyncView } from "../api";

export type SyncKind =
  | "notEnrolled"
  | "syncing"
  | "offline"
  | "slowLink"
  | "online"
  | "unknown"
  | "error";

/** Codes of a link that reached the service but broke off or was too slow: not "offline". */
const SLOW_LINK_CODES = new Set(["sync.timeout", "sync.interrupted"]);

export interface SyncSummary {
  kind: SyncKind;
  pending: number;
  lastSuccessMs: number | null;
  /** The last error's code, when the last round failed while the service answered. */
  errorCode: string | null;
}

export function summarize(view: SyncView | null): SyncSummary {
  if (!view) return { kind: "unknown", pending: 0, lastSuccessMs: null, errorCode: null };
  const s = view.status;
  const base = { pending: view.pending, lastSuccessMs: s.lastSuccessMs, errorCode: null };
  if (!view.enrolled) return { ...base, kind: "notEnrolled" };
  if (s.syncing) return { ...base, kind: "syncing" };
  if (s.online === false) return { ...base, kind: "offline" };
  if (s.online === null) return { ...base, kind: "unknown" };
  if (s.lastError && SLOW_LINK_CODES.has(s.lastError.code)) {
    return { ...base, kind: "slowLink", errorCode: s.lastError.code };
  }
  if (s.lastError) return { ...base, kind: "error", errorCode: s.lastError.code };
  return { ...base, kind: "online" };
}

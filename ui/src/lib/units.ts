// Sizes, durations and time left, as the library, the player and the progress page show them.
import type { Translate } from "./i18n";

/** Bytes in 1024 steps with one decimal above KB: "512 B", "1.5 KB", "630.6 KB", "4.0 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A span of study time: "9 秒" under a minute, else "25 分钟", "1 小时 5 分钟" (rounded down). */
export function formatStudy(ms: number, t: Translate): string {
  if (ms > 0 && ms < 60_000) return t("units.seconds", { s: Math.floor(ms / 1000) });
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return t("units.minutes", { m });
  return m === 0 ? t("units.hours", { h }) : t("units.hoursMinutes", { h, m });
}

/** Hours with one decimal, for credited hours: 1.25 h → "1.3". */
export function formatHours(ms: number): string {
  return (Math.max(0, ms) / 3_600_000).toFixed(1);
}

/** A countdown or time left: "m:ss", or "h:mm:ss" from an hour on. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Time left of a download in words; unknown before a rate is measured. */
export function formatEta(etaMs: number | null | undefined, t: Translate): string {
  if (etaMs === null || etaMs === undefined) return t("units.etaUnknown");
  const s = Math.ceil(etaMs / 1000);
  if (s < 60) return t("units.etaSeconds", { s });
  const m = Math.ceil(s / 60);
  if (m < 60) return t("units.etaMinutes", { m });
  return t("units.etaHours", { h: Math.floor(m / 60), m: m % 60 });
}

/** Percentage 0–100 (integer), safe for a zero total. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((done * 100) / total)));
}

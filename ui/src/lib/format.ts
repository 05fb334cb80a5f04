// Formatting of what the screens show: times, receipt kinds, key fingerprints, learner names.
import { hasMessage, type Locale, type Translate } from "./i18n";

const pad2 = (n: number) => String(n).padStart(2, "0");
const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/**
 * A receipt's wall time in local time, relative to `now`: "今天 14:03", "昨天 09:30",
 * "11月28日 14:03" this year, "2023年11月28日 14:03" before.
 */
export function formatTime(wallMs: number, t: Translate, now: Date = new Date()): string {
  const d = new Date(wallMs);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const dayDiff = Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000);
  if (dayDiff === 0) return t("time.today", { time });
  if (dayDiff === 1) return t("time.yesterday", { time });
  const params = {
    time,
    year: d.getFullYear(),
    month: d.getMonth() + 1,
    day: d.getDate(),
    month2: pad2(d.getMonth() + 1),
    day2: pad2(d.getDate()),
    monthName: MONTHS_EN[d.getMonth()],
  };
  return d.getFullYear() === now.getFullYear() && dayDiff > 0
    ? t("time.thisYear", params)
    : t("time.full", params);
}

/** A receipt kind (`learner_signed_in`) in words; unknown kinds stay readable. */
export function formatKind(kind: string, t: Translate): string {
  const key = `kind.${kind}`;
  return hasMessage(key) ? t(key) : t("kind.unknown", { kind });
}

/** The first 64 bits of a hex public key, upper case in groups of four: "3FA2 91C0 …". */
export function fingerprint(publicKeyHex: string): string {
  const hex = publicKeyHex.replace(/[^0-9a-fA-F]/g, "").slice(0, 16).toUpperCase();
  return hex.match(/.{1,4}/g)?.join(" ") ?? "";
}

/** The learner's name for a receipt row, or a short id when the learner is not on this device. */
export function learnerName(
  id: string,
  learners: ReadonlyArray<{ id: string; displayName: string }>,
  t: Translate,
): string {
  const found = learners.find((l) => l.id === id);
  return found ? found.displayName : `${t("receipts.unknownLearner")} ${id.slice(0, 8)}`;
}

export function htmlLang(locale: Locale): string {
  return locale === "zh-CN" ? "zh-CN" : "en";
}

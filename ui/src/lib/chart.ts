// Study time per day for the progress page's bar chart (SVG, no library).

export interface DayTotal {
  /** Local date, YYYY-MM-DD. */
  day: string;
  ms: number;
}

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  day: string;
  ms: number;
}

function dayKey(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The last `days` days ending today, filled from `totals` (missing days are 0). */
export function lastDays(totals: readonly DayTotal[], days: number, today: Date = new Date()): DayTotal[] {
  const byDay = new Map(totals.map((t) => [t.day, t.ms]));
  const out: DayTotal[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
    const key = dayKey(d);
    out.push({ day: key, ms: byDay.get(key) ?? 0 });
  }
  return out;
}

/** Bars scaled to a `width`×`height` plot; the tallest bar fills it (at least 1 minute scale). */
export function bars(series: readonly DayTotal[], width: number, height: number): Bar[] {
  const max = Math.max(60_000, ...series.map((s) => s.ms));
  const slot = series.length ? width / series.length : 0;
  const w = Math.max(1, slot * 0.7);
  return series.map((s, i) => {
    const h = (s.ms / max) * height;
    return { x: i * slot + (slot - w) / 2, y: height - h, width: w, height: h, day: s.day, ms: s.ms };
  });
}

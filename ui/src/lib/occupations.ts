// The library's occupation filter: which occupations (2022 classification codes) the courses
// on this PC and in the catalog train for, each once, sorted by code.

/** What a course card knows of its occupation (installed courses and catalog entries). */
export interface Occupied {
  course: string;
  occupation?: string | null;
  occupationName?: string | null;
  occupationLevel?: number | null;
}

export interface OccupationOption {
  code: string;
  name: string;
}

/** Every occupation the courses name, once, by code; a course without one adds nothing. */
export function occupationOptions(courses: Occupied[]): OccupationOption[] {
  const byCode = new Map<string, string>();
  for (const c of courses) {
    if (!c.occupation) continue;
    const known = byCode.get(c.occupation);
    if (!known) byCode.set(c.occupation, c.occupationName ?? "");
  }
  return [...byCode.entries()]
    .map(([code, name]) => ({ code, name }))
    .sort((a, b) => a.code.localeCompare(b.code));
}

const LEVEL_KEYS = [
  "occupation.level.1",
  "occupation.level.2",
  "occupation.level.3",
  "occupation.level.4",
  "occupation.level.5",
] as const;

/** The message key naming a skill level (职业技能等级 1-5); null for none or an unknown one. */
export function levelKey(level: number | null | undefined): (typeof LEVEL_KEYS)[number] | null {
  return level && level >= 1 && level <= LEVEL_KEYS.length ? LEVEL_KEYS[level - 1] : null;
}

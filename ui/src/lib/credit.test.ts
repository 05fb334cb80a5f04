import { describe, expect, it } from "vitest";
import { COMPLETION_CODES, EXAM_SERVICE_STATUSES, WITHHELD_CODES, type CourseCredit } from "../api";
import { en } from "../messages/en";
import { zhCN } from "../messages/zh-CN";
import { examServiceText, hoursShort, missingText, notCounted, withheldLine } from "./credit";
import { hasMessage, translator } from "./i18n";

const zh = translator("zh-CN");
const english = translator("en");

const course = (over: Partial<CourseCredit> = {}): CourseCredit => ({
  course: "c",
  creditedMs: 0,
  completed: false,
  lessons: [],
  requiredMs: 0,
  missing: [],
  ...over,
});

describe("every code the service sends has Chinese and English text", () => {
  const both = (key: string) => {
    expect(hasMessage(key), key).toBe(true);
    expect((zhCN as Record<string, string>)[key], `zh-CN ${key}`).toBeTruthy();
    expect((en as Record<string, string | undefined>)[key], `en ${key}`).toBeTruthy();
  };
  it("withheld credit", () => {
    expect(WITHHELD_CODES).toHaveLength(16);
    for (const code of WITHHELD_CODES) both(`withheld.${code}`);
  });
  it("exam statuses", () => {
    for (const code of EXAM_SERVICE_STATUSES) both(`examService.${code}`);
  });
  it("what a course still needs", () => {
    for (const code of COMPLETION_CODES) both(`missing.${code}`);
  });
  it("the attempt limit's error", () => {
    both("error.exam.no_attempts_left");
  });
});

describe("withheld lines", () => {
  it("say why, how long and how many records, Chinese first", () => {
    const w = { code: "credit.daily_cap", message: "over the daily limit", receipts: 3, ms: 2 * 3_600_000 };
    expect(withheldLine(w, zh)).toBe("超过了每天可认定的学习时间上限：2 小时（3 条记录）");
    expect(withheldLine(w, english)).toContain("Over the daily limit of credited study: ");
  });
  it("tell a learner who missed or failed an attention check to re-watch that part", () => {
    const missed = { code: "credit.check_missed", message: "", receipts: 1, ms: 15 * 60_000 };
    expect(withheldLine(missed, zh)).toContain("随堂提问一分钟内没有回答");
    expect(withheldLine(missed, zh)).toContain("请重新学习这部分");
    const wrong = { code: "credit.check_wrong", message: "", receipts: 1, ms: 15 * 60_000 };
    expect(withheldLine(wrong, english)).toContain("answered wrongly: re-watch that part");
  });
  it("fall back to the service's message for a code the UI does not know", () => {
    const w = { code: "credit.new_rule", message: "a new rule", receipts: 1, ms: 60_000 };
    expect(withheldLine(w, zh)).toContain("a new rule：");
  });
});

describe("exam attempts", () => {
  it("that the service did not count are not a plain fail", () => {
    expect(notCounted({ serviceStatus: "exam.over_time" })).toBe(true);
    expect(notCounted({ serviceStatus: "exam.attempts_exceeded" })).toBe(true);
    expect(notCounted({ serviceStatus: "exam.graded" })).toBe(false);
    expect(notCounted({ serviceStatus: "exam.started" })).toBe(false);
    expect(notCounted({ serviceStatus: null })).toBe(false);
    expect(examServiceText("exam.over_time", zh)).toBe("超时交卷，不计成绩");
    expect(examServiceText("exam.not_started", zh)).toBe("未开始就交卷，不计成绩");
    expect(examServiceText("exam.attempts_exceeded", zh)).toBe("超过考试次数，不计成绩");
    expect(examServiceText("exam.someday", zh)).toBe("exam.someday");
  });
});

describe("what a course still needs", () => {
  it("names the hours to go", () => {
    const c = course({ requiredMs: 10 * 3_600_000, creditedMs: 7.5 * 3_600_000, missing: ["completion.hours"] });
    expect(hoursShort(c)).toBe(2.5);
    expect(missingText("completion.hours", c, zh)).toBe("学时不足，还差 2.5 小时");
    expect(missingText("completion.hours", course(), zh)).toBe("学时不足");
    expect(hoursShort(course({ requiredMs: 3_600_000, creditedMs: 3_600_000 - 1 }))).toBe(0.1);
  });
  it("and the rest in plain words", () => {
    expect(missingText("completion.lessons", course(), zh)).toBe("课时未学完");
    expect(missingText("completion.media", course(), zh)).toBe("视频未看完");
    expect(missingText("completion.exam", course(), zh)).toBe("考试未通过");
    expect(missingText("completion.exam", course(), english)).toBe("Exam not passed");
    expect(missingText("completion.other", course(), zh)).toBe("completion.other");
  });
});

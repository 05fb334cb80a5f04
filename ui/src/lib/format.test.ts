import { describe, expect, it } from "vitest";
import { fingerprint, formatKind, formatTime, learnerName } from "./format";
import { translator } from "./i18n";

const zh = translator("zh-CN");
const en = translator("en");
// Local times, so the tests hold in any time zone.
const now = new Date(2025, 10, 28, 15, 30);

describe("formatTime", () => {
  it("says today and yesterday", () => {
    expect(formatTime(new Date(2025, 10, 28, 9, 5).getTime(), zh, now)).toBe("今天 09:05");
    expect(formatTime(new Date(2025, 10, 27, 23, 59).getTime(), zh, now)).toBe("昨天 23:59");
    expect(formatTime(new Date(2025, 10, 27, 23, 59).getTime(), en, now)).toBe("Yesterday 23:59");
  });

  it("gives month and day this year, and the year before", () => {
    expect(formatTime(new Date(2025, 0, 3, 8, 0).getTime(), zh, now)).toBe("1月3日 08:00");
    expect(formatTime(new Date(2025, 0, 3, 8, 0).getTime(), en, now)).toBe("Jan 3, 08:00");
    expect(formatTime(new Date(2024, 11, 31, 20, 15).getTime(), zh, now)).toBe("2024年12月31日 20:15");
    expect(formatTime(new Date(2024, 11, 31, 20, 15).getTime(), en, now)).toBe("2024-12-31 20:15");
  });

  it("shows a future time (a wrong clock) in full rather than as 'this year'", () => {
    expect(formatTime(new Date(2025, 11, 25, 10, 0).getTime(), zh, now)).toBe("2025年12月25日 10:00");
  });
});

describe("formatKind", () => {
  it("names every receipt kind in Chinese", () => {
    expect(formatKind("learner_signed_in", zh)).toBe("学员登录");
    expect(formatKind("exam_submitted", zh)).toBe("提交考试");
    expect(formatKind("learner_signed_in", en)).toBe("Signed in");
  });

  it("keeps an unknown kind readable", () => {
    expect(formatKind("teleported", zh)).toBe("其他记录（teleported）");
  });
});

describe("fingerprint", () => {
  it("groups the first 16 hex digits of the key", () => {
    expect(fingerprint("3fa291c0deadbeef00112233445566778899aabbccddeeff0011223344556677")).toBe(
      "3FA2 91C0 DEAD BEEF",
    );
    expect(fingerprint("")).toBe("");
  });
});

describe("learnerName", () => {
  const learners = [{ id: "6f1c2d3e-0000-4000-8000-000000000001", displayName: "李娜" }];
  it("finds the learner or shows a short id", () => {
    expect(learnerName("6f1c2d3e-0000-4000-8000-000000000001", learners, zh)).toBe("李娜");
    expect(learnerName("9abcdef0-0000-4000-8000-000000000002", learners, zh)).toBe("未知学员 9abcdef0");
  });
});

import { describe, expect, it } from "vitest";
import { translator } from "./i18n";
import { formatBytes, formatClock, formatEta, formatHours, formatStudy, percent } from "./units";

const zh = translator("zh-CN");
const en = translator("en");

describe("formatBytes", () => {
  it("uses 1024 steps with one decimal above bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KB");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(1_032_806)).toBe("1008.6 KB");
    expect(formatBytes(5 * 1024 ** 2)).toBe("5.0 MB");
    expect(formatBytes(4 * 1024 ** 3)).toBe("4.0 GB");
    expect(formatBytes(3 * 1024 ** 5)).toBe("3072.0 TB");
  });
  it("shows a dash for nonsense", () => {
    expect(formatBytes(-1)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });
});

describe("durations", () => {
  it("formats study time in minutes and hours, rounded down", () => {
    expect(formatStudy(0, zh)).toBe("0 分钟");
    expect(formatStudy(59_999, zh)).toBe("59 秒");
    expect(formatStudy(8_874, en)).toBe("8 s");
    expect(formatStudy(25 * 60_000, zh)).toBe("25 分钟");
    expect(formatStudy(60 * 60_000, zh)).toBe("1 小时");
    expect(formatStudy(65 * 60_000 + 59_000, zh)).toBe("1 小时 5 分钟");
    expect(formatStudy(65 * 60_000, en)).toBe("1 h 5 min");
    expect(formatStudy(-5, en)).toBe("0 min");
  });
  it("formats credited hours with one decimal", () => {
    expect(formatHours(0)).toBe("0.0");
    expect(formatHours(4_500_000)).toBe("1.3");
    expect(formatHours(-1)).toBe("0.0");
  });
  it("formats a countdown, rounding up to whole seconds", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(1)).toBe("0:01");
    expect(formatClock(20 * 60_000)).toBe("20:00");
    expect(formatClock(59_001)).toBe("1:00");
    expect(formatClock(3_600_000 + 61_000)).toBe("1:01:01");
    expect(formatClock(-500)).toBe("0:00");
  });
});

describe("formatEta", () => {
  it("is unknown before a rate is measured", () => {
    expect(formatEta(null, zh)).toBe("正在估算剩余时间");
    expect(formatEta(undefined, en)).toBe("estimating time left");
  });
  it("says seconds, minutes or hours", () => {
    expect(formatEta(6_200, zh)).toBe("还要 7 秒");
    expect(formatEta(90_000, zh)).toBe("还要约 2 分钟");
    expect(formatEta(2 * 3_600_000 + 5 * 60_000, en)).toBe("about 2 h 5 min left");
  });
});

describe("percent", () => {
  it("is an integer between 0 and 100, safe for a zero total", () => {
    expect(percent(0, 0)).toBe(0);
    expect(percent(1, 3)).toBe(33);
    expect(percent(5, 5)).toBe(100);
    expect(percent(7, 5)).toBe(100);
    expect(percent(-1, 5)).toBe(0);
  });
});

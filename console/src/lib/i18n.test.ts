import { describe, expect, it } from "vitest";
import { en } from "../messages/en";
import { zhCN } from "../messages/zh-CN";
import { errorText, reasonText, translate } from "./i18n";

describe("messages", () => {
  it("fills parameters and falls back to Chinese", () => {
    expect(translate("zh-CN", "import.summary", { good: 2, bad: 5 })).toBe("2 行正确，5 行有错误");
    expect(translate("en", "import.summary", { good: 2, bad: 5 })).toBe("2 rows OK, 5 rows with errors");
  });

  it("has an English text for every Chinese one, with the same parameters", () => {
    for (const [key, zh] of Object.entries(zhCN)) {
      const e = en[key as keyof typeof zhCN];
      expect(e, key).toBeTruthy();
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(names(e as string), key).toEqual(names(zh));
    }
  });

  it("names every roster reason the service gives", () => {
    for (const code of [
      "roster.missing_name",
      "roster.invalid_id",
      "roster.bad_checksum",
      "roster.id_as_number",
      "roster.duplicate_in_file",
      "roster.already_registered",
    ]) {
      expect(reasonText("zh-CN", code, null)).not.toBe(code);
    }
    expect(reasonText("en", "roster.new_rule", "the service's words")).toBe("the service's words");
  });

  it("shows a known error in words and an unknown one with the service's message", () => {
    expect(errorText("en", "console.account_locked", "x")).toContain("15 minutes");
    expect(errorText("en", "something.new", "it broke")).toBe("That did not work: it broke");
  });
});

import { describe, expect, it } from "vitest";
import { COMPLETION_CODES, EXAM_SERVICE_STATUSES, WITHHELD_CODES } from "../api";
import { en } from "../messages/en";
import { CAMERA_CODES } from "./camera";
import { ERROR_CODES, SERVICE_ERROR_CODES } from "../messages/errorCodes";
import { zhCN } from "../messages/zh-CN";
import { hasMessage, initialLocale, interpolate, translate, translator } from "./i18n";

describe("translate", () => {
  it("is Chinese by default and English when chosen", () => {
    expect(translate("zh-CN", "learners.add")).toBe("添加学员");
    expect(translate("en", "learners.add")).toBe("Add learner");
  });

  it("fills placeholders", () => {
    expect(translate("zh-CN", "learners.signedInNotice", { name: "王小明", seq: 3 })).toBe(
      "王小明 已登录，已记录第 3 条学习记录",
    );
    expect(translator("en")("ledger.summary", { head: 5, acked: 2, pending: 3 })).toBe(
      "Records: 5 · synced: 2 · waiting to sync: 3",
    );
  });

  it("falls back to Chinese for a key missing in English", () => {
    const key = "app.title";
    const saved = en[key];
    delete en[key];
    try {
      expect(translate("en", key)).toBe(zhCN[key]);
    } finally {
      en[key] = saved;
    }
  });

  it("leaves unknown placeholders visible instead of dropping them", () => {
    expect(interpolate("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });

  it("knows which keys exist", () => {
    expect(hasMessage("error.store.corrupt")).toBe(true);
    expect(hasMessage("error.no.such.code")).toBe(false);
    expect(hasMessage("toString")).toBe(false);
  });

  it("has an English text for every Chinese key, and no extra ones", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });

  it("starts in Chinese unless English was saved", () => {
    expect(initialLocale(null)).toBe("zh-CN");
    expect(initialLocale("fr")).toBe("zh-CN");
    expect(initialLocale("en")).toBe("en");
  });
});

describe("message files", () => {
  it("have the same keys in both languages", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });
  it("cover the keys the screens build at run time", () => {
    for (const kind of ["notEnrolled", "syncing", "offline", "slowLink", "online", "unknown", "error"]) {
      expect(hasMessage(`sync.${kind}`), kind).toBe(true);
    }
    for (const status of ["inProgress", "waitingForGrading", "graded", "expired"]) {
      expect(hasMessage(`exam.status.${status}`), status).toBe(true);
    }
    for (const code of WITHHELD_CODES) expect(hasMessage(`withheld.${code}`), code).toBe(true);
    for (const code of EXAM_SERVICE_STATUSES) expect(hasMessage(`examService.${code}`), code).toBe(true);
    for (const code of COMPLETION_CODES) expect(hasMessage(`missing.${code}`), code).toBe(true);
  });
});

describe("error texts", () => {
  // ERROR_CODES is every code the Rust side can send and SERVICE_ERROR_CODES every code of the
  // service that can answer the device (both written and kept current by
  // `cargo test -p hearth-core --test error_codes`); ipc.* and ui.* arise in the UI itself.
  const codes = [...ERROR_CODES, ...SERVICE_ERROR_CODES, "ipc.unavailable", "ipc.denied", ...CAMERA_CODES];
  it("exist in Chinese and English for every code that can reach the app", () => {
    const zh = zhCN as Record<string, string>;
    const english = en as Record<string, string>;
    const missing = codes.filter((c) => !zh[`error.${c}`]?.trim() || !english[`error.${c}`]?.trim());
    expect(missing).toEqual([]);
  });
  it("are not stale keys of codes that no longer exist", () => {
    const known = new Set<string>([...codes, "title", "withCode", "unknown"]);
    const stale = Object.keys(zhCN)
      .filter((k) => k.startsWith("error."))
      .map((k) => k.slice("error.".length))
      .filter((c) => !known.has(c));
    expect(stale.filter((c) => !SERVICE_CODE.test(c))).toEqual([]);
  });
});

/** Codes the service sends (its own, passed on by sync and enrollment), not in ERROR_CODES. */
const SERVICE_CODE = /^(enroll|auth|device|sync|org|class|roster|exam|course|request)\./;


import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, toErrorBody } from "./errors";
import { translator } from "./i18n";

const zh = translator("zh-CN");
const en = translator("en");

describe("errorMessage", () => {
  it("shows the UI's own text for a known code, in the chosen language", () => {
    const body = { code: "store.corrupt", message: "/x/hearth.db failed its integrity check" };
    expect(errorMessage(body, zh)).toBe("数据文件已损坏，请从备份恢复。");
    expect(errorMessage(body, en)).toBe("The data file is damaged; restore it from a backup.");
    expect(errorMessage(new ApiError("learner.unknown", "no learner"), zh)).toBe("本机没有这位学员。");
  });

  it("falls back to the English message and the code for an unknown code", () => {
    expect(errorMessage({ code: "sync.not_a_code", message: "ack 3 mismatch" }, zh)).toBe(
      "操作没有成功：ack 3 mismatch（错误代码：sync.not_a_code）",
    );
  });

  it("maps Tauri's plain-string refusals", () => {
    expect(toErrorBody("Command foo not allowed by ACL")).toEqual({
      code: "ipc.denied",
      message: "Command foo not allowed by ACL",
    });
    expect(errorMessage("Command foo not allowed by ACL", zh)).toBe("此操作不被允许。");
    expect(toErrorBody("something odd").code).toBe("ipc");
  });

  it("handles thrown errors and junk", () => {
    expect(toErrorBody(new Error("boom"))).toEqual({ code: "ui", message: "boom" });
    expect(toErrorBody(42)).toEqual({ code: "ui", message: "42" });
    expect(toErrorBody({ code: 1 })).toEqual({ code: "ui", message: "[object Object]" });
  });
});

import { describe, expect, it } from "vitest";
import { en } from "../messages/en";
import { zhCN } from "../messages/zh-CN";
import { CAMERA_CODES, cameraError, cameraErrorCode, capturePhoto, isJpeg } from "./camera";
import { ApiError, errorMessage } from "./errors";
import { translator } from "./i18n";

/** A DOMException-like error as getUserMedia rejects with. */
function domError(name: string): Error {
  const e = new Error(`${name} happened`);
  e.name = name;
  return e;
}

describe("cameraErrorCode", () => {
  it("maps a refusal to camera.denied", () => {
    expect(cameraErrorCode(domError("NotAllowedError"))).toBe("camera.denied");
    expect(cameraErrorCode(domError("SecurityError"))).toBe("camera.denied");
  });
  it("maps a missing, busy or unfit camera and anything else to camera.unavailable", () => {
    for (const name of ["NotFoundError", "NotReadableError", "OverconstrainedError", "AbortError", "TypeError"]) {
      expect(cameraErrorCode(domError(name))).toBe("camera.unavailable");
    }
    expect(cameraErrorCode("weird")).toBe("camera.unavailable");
    expect(cameraErrorCode(null)).toBe("camera.unavailable");
  });
});

describe("cameraError", () => {
  it("is an ApiError with the code and the browser's reason in its message", () => {
    const e = cameraError(domError("NotAllowedError"));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe("camera.denied");
    expect(e.message).toContain("NotAllowedError");
  });
  it("keeps a camera error it is given", () => {
    const original = new ApiError("camera.unavailable", "camera: no frame");
    expect(cameraError(original)).toBe(original);
  });
  it("has a text in Chinese and English for each code", () => {
    for (const code of CAMERA_CODES) {
      const zh = errorMessage(new ApiError(code, "x"), translator("zh-CN"));
      const english = errorMessage(new ApiError(code, "x"), translator("en"));
      expect(zh).toBe((zhCN as Record<string, string>)[`error.${code}`]);
      expect(english).toBe((en as Record<string, string>)[`error.${code}`]);
      expect(zh).toMatch(/摄像头/);
      expect(english).toMatch(/camera/i);
    }
  });
});

describe("isJpeg", () => {
  it("accepts SOI ... EOI and refuses anything else", () => {
    expect(isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xff, 0xd9]))).toBe(true);
    // PNG
    expect(isJpeg(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(false);
    // A JPEG cut short (no EOI).
    expect(isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]))).toBe(false);
    expect(isJpeg(new Uint8Array([0xff, 0xd8]))).toBe(false);
    expect(isJpeg(new Uint8Array())).toBe(false);
  });
});

describe("capturePhoto outside a window with media devices", () => {
  it("fails with camera.unavailable", async () => {
    await expect(capturePhoto()).rejects.toMatchObject({ code: "camera.unavailable" });
  });
});

import { describe, expect, it } from "vitest";
import { findMedia, mediaUrl, playUrl, seekAllowed, setPlayBase } from "./media";

describe("mediaUrl", () => {
  it("uses the custom scheme on Linux and macOS and the http form on Windows", () => {
    expect(mediaUrl("ab12", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit")).toBe("hearth-media://localhost/ab12");
    expect(mediaUrl("ab12", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/120")).toBe(
      "http://hearth-media.localhost/ab12",
    );
  });
});

describe("findMedia", () => {
  const files = [{ path: "media/a.png" }, { path: "media/b.mp4" }];
  it("matches a lesson's relative reference by file name", () => {
    expect(findMedia("../media/a.png", files)).toBe(files[0]);
    expect(findMedia("media/b.mp4", files)).toBe(files[1]);
    expect(findMedia("../media/c.png", files)).toBeUndefined();
  });
});

describe("seekAllowed", () => {
  it("allows seeking up to the furthest point (plus slack) on first viewing, anywhere after", () => {
    expect(seekAllowed(0, 0, false)).toBe(true);
    expect(seekAllowed(2, 0, false)).toBe(true);
    expect(seekAllowed(2.5, 0, false)).toBe(false);
    expect(seekAllowed(31, 30, false)).toBe(true);
    expect(seekAllowed(45, 30, false)).toBe(false);
    expect(seekAllowed(45, 30, true)).toBe(true);
  });
});

describe("playUrl", () => {
  it("uses the shell's loopback base for audio and video when it gave one, else the scheme", () => {
    setPlayBase("");
    expect(playUrl("ab12", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit")).toBe("hearth-media://localhost/ab12");
    setPlayBase("http://127.0.0.1:4567/0123abcd/");
    expect(playUrl("ab12")).toBe("http://127.0.0.1:4567/0123abcd/ab12");
    setPlayBase("");
  });
});


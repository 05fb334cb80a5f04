import { describe, expect, it } from "vitest";
import { bars, lastDays } from "./chart";

describe("lastDays", () => {
  it("fills the last days ending today, oldest first, with zeros for missing days", () => {
    const today = new Date(2026, 10, 29, 15, 0);
    const s = lastDays([{ day: "2026-11-28", ms: 60_000 }, { day: "2026-10-01", ms: 5 }], 3, today);
    expect(s).toEqual([
      { day: "2026-11-27", ms: 0 },
      { day: "2026-11-28", ms: 60_000 },
      { day: "2026-11-29", ms: 0 },
    ]);
  });
  it("crosses month ends", () => {
    const s = lastDays([], 2, new Date(2026, 2, 1));
    expect(s.map((d) => d.day)).toEqual(["2026-02-28", "2026-03-01"]);
  });
});

describe("bars", () => {
  it("scales the tallest bar to the plot height and keeps zero days flat", () => {
    const b = bars(
      [
        { day: "a", ms: 0 },
        { day: "b", ms: 600_000 },
        { day: "c", ms: 300_000 },
      ],
      300,
      100,
    );
    expect(b.map((x) => x.height)).toEqual([0, 100, 50]);
    expect(b[1].y).toBe(0);
    expect(b[0].x).toBeCloseTo(15);
    expect(b[1].width).toBeCloseTo(70);
  });
  it("uses at least a one-minute scale, so seconds do not look like hours", () => {
    expect(bars([{ day: "a", ms: 30_000 }], 10, 100)[0].height).toBe(50);
  });
});

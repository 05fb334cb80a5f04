import { describe, expect, it } from "vitest";
import { levelKey, occupationOptions } from "./occupations";

describe("occupationOptions", () => {
  it("lists each occupation once, by code, and skips courses without one", () => {
    const options = occupationOptions([
      { course: "b", occupation: "6-31-01-03", occupationName: "电工", occupationLevel: 5 },
      { course: "a", occupation: "4-10-01-01", occupationName: "养老护理员" },
      { course: "c", occupation: "6-31-01-03", occupationName: "电工" },
      { course: "d" },
      { course: "e", occupation: null },
    ]);
    expect(options).toEqual([
      { code: "4-10-01-01", name: "养老护理员" },
      { code: "6-31-01-03", name: "电工" },
    ]);
  });
});

describe("levelKey", () => {
  it("names levels 1 to 5 and nothing else", () => {
    expect(levelKey(1)).toBe("occupation.level.1");
    expect(levelKey(5)).toBe("occupation.level.5");
    expect(levelKey(0)).toBeNull();
    expect(levelKey(6)).toBeNull();
    expect(levelKey(null)).toBeNull();
  });
});

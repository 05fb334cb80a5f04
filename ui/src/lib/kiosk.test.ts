import { describe, expect, it } from "vitest";
import type { ClassSession, KioskPerson } from "../api";
import { groupRoster, kioskNav, landingAfterSignIn, pinAfterKey, shouldReportInput } from "./kiosk";

const person = (name: string, role: "learner" | "trainer", classes: string[] = [], hasPin = true): KioskPerson => ({
  id: `id-${name}`,
  name,
  role,
  hasPin,
  classes: classes.map((id) => ({ id, name: `class ${id}` })),
});

const session = (exam: ClassSession["exam"]): ClassSession => ({
  class: "c1",
  name: "电工一班",
  trainer: "id-王老师",
  openedWallMs: 0,
  exam,
});

describe("groupRoster", () => {
  const people = [
    person("赵六", "learner", ["c2"]),
    person("李四", "learner", ["c1"]),
    person("王老师", "trainer", ["c1"]),
    person("张三", "learner", ["c1"]),
    person("无密码", "learner", ["c1"], false),
  ];

  it("puts the open class's learners first and leaves out people without a PIN", () => {
    const g = groupRoster(people, "c1");
    expect(g.learners.map((p) => p.name)).toEqual(["李四", "张三", "赵六"]);
    expect(g.trainers.map((p) => p.name)).toEqual(["王老师"]);
  });

  it("orders by name alone when no class is open, and narrows by the typed filter", () => {
    expect(groupRoster(people, null).learners.map((p) => p.name)).toEqual(["李四", "张三", "赵六"].sort((a, b) => a.localeCompare(b, "zh-CN")));
    expect(groupRoster(people, null, " 张 ").learners.map((p) => p.name)).toEqual(["张三"]);
    expect(groupRoster(people, null, "张").trainers).toEqual([]);
  });
});

describe("landingAfterSignIn", () => {
  const learner = { person: "l", name: "张三", role: "learner" as const };
  it("sends a trainer to trainer mode and a learner to the library", () => {
    expect(landingAfterSignIn({ ...learner, role: "trainer" }, session(null))).toEqual({ name: "trainer" });
    expect(landingAfterSignIn(learner, null)).toEqual({ name: "library" });
    expect(landingAfterSignIn(learner, session(null))).toEqual({ name: "library" });
  });
  it("sends a learner to the exam the trainer started", () => {
    const exam = { course: "electrician-safety", version: 1, exam: "final" };
    expect(landingAfterSignIn(learner, session(exam))).toEqual({ name: "exam", ...exam });
  });
});

describe("shouldReportInput", () => {
  it("reports the first input, then at most once per gap", () => {
    expect(shouldReportInput(null, 1_000)).toBe(true);
    expect(shouldReportInput(1_000, 2_000)).toBe(false);
    expect(shouldReportInput(1_000, 6_000)).toBe(true);
  });
  it("reports when the clock went backwards rather than never again", () => {
    expect(shouldReportInput(10_000, 500)).toBe(true);
  });
});

describe("pinAfterKey", () => {
  it("appends digits up to eight, deletes and clears", () => {
    let pin = "";
    for (const k of "123456789") pin = pinAfterKey(pin, k);
    expect(pin).toBe("12345678");
    expect(pinAfterKey("123", "back")).toBe("12");
    expect(pinAfterKey("123", "Backspace")).toBe("12");
    expect(pinAfterKey("123", "clear")).toBe("");
    expect(pinAfterKey("123", "a")).toBe("123");
    expect(pinAfterKey("", "back")).toBe("");
  });
});

describe("kioskNav", () => {
  it("gives trainers the class tools and settings, learners only study screens", () => {
    expect(kioskNav(null)).toEqual([]);
    expect(kioskNav({ person: "l", name: "x", role: "learner" })).toEqual(["library", "progress"]);
    expect(kioskNav({ person: "t", name: "x", role: "trainer" })).toContain("trainer");
    expect(kioskNav({ person: "t", name: "x", role: "trainer" })).toContain("settings");
  });
});

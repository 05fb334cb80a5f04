import { describe, expect, it } from "vitest";
import type { ExamItem } from "../api";
import { clearDraft, draftKey, loadDraft, saveDraft } from "./examDraft";

class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const items: ExamItem[] = [
  { id: "a", prompt: "?", options: ["x", "y", "z"], multiple: false, points: 1 },
  { id: "b", prompt: "?", options: ["x", "y", "z", "w"], multiple: true, points: 2 },
];

describe("exam drafts", () => {
  it("come back for the same learner, exam and attempt only", () => {
    const s = new MemoryStorage();
    const key = draftKey("ana", "electrician-safety", "final", 1);
    saveDraft(s, key, { a: [2], b: [3, 0] });
    expect(loadDraft(s, key, items)).toEqual({ a: [2], b: [0, 3] });
    expect(loadDraft(s, draftKey("bo", "electrician-safety", "final", 1), items)).toEqual({});
    expect(loadDraft(s, draftKey("ana", "electrician-safety", "final", 2), items)).toEqual({});
  });

  it("keep only answers that fit the exam", () => {
    const s = new MemoryStorage();
    const key = draftKey("ana", "c", "e", 1);
    s.setItem(key, JSON.stringify({ a: [0, 1], b: [9, -1, 1.5, 2, 2], gone: [0], c: "x" }));
    expect(loadDraft(s, key, items)).toEqual({ a: [0], b: [2] });
    s.setItem(key, "{not json");
    expect(loadDraft(s, key, items)).toEqual({});
    s.setItem(key, "[1,2]");
    expect(loadDraft(s, key, items)).toEqual({});
  });

  it("are removed when the exam is submitted", () => {
    const s = new MemoryStorage();
    const key = draftKey("ana", "c", "e", 1);
    saveDraft(s, key, { a: [1] });
    clearDraft(s, key);
    expect(s.length).toBe(0);
    expect(loadDraft(null, key, items)).toEqual({});
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { exportUrl, flagFilter, query, supervisorFlags, supervisorLearners, supervisorReceipts } from "./api";

describe("the supervisor's API", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("leaves out the parameters that are not given and escapes the rest", () => {
    expect(query({ by: "course", key: "电工 安全", after: null, org: "" })).toBe(
      "?by=course&key=%E7%94%B5%E5%B7%A5+%E5%AE%89%E5%85%A8",
    );
    expect(query({ after: undefined })).toBe("");
  });

  it("downloads exports from the service's export route", () => {
    expect(exportUrl({ table: "learners", by: "institution", key: "o-1" }, "xlsx")).toBe(
      "/console/api/supervisor/export?table=learners&by=institution&key=o-1&format=xlsx",
    );
    expect(exportUrl({ table: "receipts", learner: "l-1" }, "csv")).toBe(
      "/console/api/supervisor/export?table=receipts&learner=l-1&format=csv",
    );
    expect(exportUrl({ table: "learners", by: "course", key: "c", flags: "open" }, "csv")).toBe(
      "/console/api/supervisor/export?table=learners&by=course&key=c&flags=open&format=csv",
    );
    expect(exportUrl({ table: "flags", learner: "l-1" }, "xlsx")).toBe(
      "/console/api/supervisor/export?table=flags&learner=l-1&format=xlsx",
    );
  });

  it("drills down from a flag column with its filter, from the others with none", () => {
    expect(flagFilter("flags.open")).toBe("open");
    expect(flagFilter("flags.anomaly")).toBe("anomaly");
    expect(flagFilter("hours")).toBeNull();
  });

  it("asks for the next page with the cursor the last one gave", async () => {
    const urls: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        urls.push(url);
        return new Response(JSON.stringify({ title: "", columns: [], rows: [], next: null }), {
          status: 200,
        });
      }),
    );
    await supervisorLearners("period", "2026-12", "abc");
    await supervisorReceipts("l/1", "dev:5");
    await supervisorLearners("course", "c", null, "withheld");
    await supervisorFlags("l/1");
    expect(urls).toEqual([
      "/console/api/supervisor/learners?by=period&key=2026-12&after=abc",
      "/console/api/supervisor/learners/l%2F1/receipts?after=dev%3A5",
      "/console/api/supervisor/learners?by=course&key=c&flags=withheld",
      "/console/api/supervisor/learners/l%2F1/flags",
    ]);
  });
});

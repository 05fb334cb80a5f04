import { afterEach, describe, expect, it, vi } from "vitest";
import { signIn } from "./api";
import { bars, bestExam, certificatePdf, resolveFlag, revokeCertificate, type LearnerRecord } from "./admin";

afterEach(() => vi.unstubAllGlobals());

function answer(status: number, body: unknown) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status }));
}

describe("admin pages' API", () => {
  it("resolves a flag and revokes a certificate with the session's anti-forgery token", async () => {
    const person = { id: "u", name: "A", role: "admin", org: "o", orgName: "O" };
    vi.stubGlobal("fetch", answer(200, { user: person, csrfToken: "tok", expiresMs: 1 }));
    await signIn("admin", "pw");
    let f = answer(200, { key: "fork:d", resolution: { note: "n" } });
    vi.stubGlobal("fetch", f);
    await resolveFlag("fork:d", "已核实");
    let [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/console/api/flags/resolve");
    expect(init.method).toBe("POST");
    expect(JSON.parse(init.body as string)).toEqual({ key: "fork:d", note: "已核实" });
    expect((init.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
    f = answer(200, { serial: "HC-A/B", revoked: true });
    vi.stubGlobal("fetch", f);
    await revokeCertificate("HC-A/B", "有误");
    [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/console/api/certificates/HC-A%2FB/revoke");
    expect(JSON.parse(init.body as string)).toEqual({ reason: "有误" });
    expect(certificatePdf("HC-1")).toBe("/console/api/certificates/HC-1/pdf");
  });

  it("scales chart bars to the largest value", () => {
    expect(bars([0, 30, 60])).toEqual([0, 0.5, 1]);
    expect(bars([0, 0])).toEqual([0, 0]);
    expect(bars([])).toEqual([]);
  });

  it("takes the best graded exam attempt, ignoring attempts that do not count", () => {
    const exam = (score: number, passed: boolean, status = "exam.graded") => ({
      exam: "final", attempt: 1, score, maxScore: 10, passed, status,
    });
    const r: LearnerRecord = {
      learnerId: "l", name: "张三", creditedMs: 0, certificates: [],
      courses: [{ course: "c", creditedMs: 0, requiredMs: 0, completed: false, lessons: [],
        exams: [exam(4, false), exam(9, true, "exam.over_time"), exam(7, true)] }],
    };
    expect(bestExam(r)).toEqual({ score: 7, max: 10, passed: true });
    expect(bestExam({ ...r, courses: [] })).toBeNull();
  });
});

describe("times", () => {
  it("shows minutes under six minutes and hours above", async () => {
    const { hours, shortTime } = await import("./admin");
    expect(shortTime(90_000)).toEqual({ minutes: "1.5" });
    expect(shortTime(360_000)).toBeNull();
    expect(hours(5_400_000)).toBe("1.5");
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { signIn } from "./api";
import { type Claim, packUrl, rejectClaim, reviewOrder, submitClaim, submittable } from "./claims";

afterEach(() => vi.unstubAllGlobals());

function answer(status: number, body: unknown) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status }));
}

const claim = (id: string, classId: string, state: Claim["state"], submittedMs: number): Claim => ({
  id, orgId: "o", institution: "I", classId, className: "C", submittedBy: "u", submittedByName: "A",
  submittedMs, packSha256: "00", learners: 1, creditedMs: 0, certificates: 0, openFlags: 0, state,
});

describe("claims API", () => {
  it("submits and rejects with the session's anti-forgery token and the reason", async () => {
    const person = { id: "u", name: "A", role: "admin", org: "o", orgName: "O" };
    vi.stubGlobal("fetch", answer(200, { user: person, csrfToken: "tok", expiresMs: 1 }));
    await signIn("admin", "pw");
    let f = answer(201, claim("k", "c/1", "pending", 1));
    vi.stubGlobal("fetch", f);
    await submitClaim("c/1");
    let [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/console/api/classes/c%2F1/claims");
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
    f = answer(200, claim("k", "c", "rejected", 1));
    vi.stubGlobal("fetch", f);
    await rejectClaim("k", "缺少签到表");
    [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/console/api/claims/k/reject");
    expect(JSON.parse(init.body as string)).toEqual({ reason: "缺少签到表" });
    expect(packUrl("k")).toBe("/console/api/claims/k/pack");
  });

  it("puts pending claims first, oldest first, then decided ones, newest first", () => {
    const list = [claim("a", "1", "approved", 1), claim("b", "2", "pending", 5), claim("c", "3", "rejected", 3), claim("d", "4", "pending", 2)];
    expect(reviewOrder(list).map((c) => c.id)).toEqual(["d", "b", "c", "a"]);
  });

  it("offers only classes with no claim pending or approved", () => {
    const classes = [{ id: "1" }, { id: "2" }, { id: "3" }, { id: "4" }];
    const list = [claim("a", "1", "approved", 1), claim("b", "2", "pending", 2), claim("c", "3", "rejected", 3)];
    expect(submittable(classes, list).map((c) => c.id)).toEqual(["3", "4"]);
  });
});

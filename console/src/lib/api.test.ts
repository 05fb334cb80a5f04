import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, addClass, rosterType, session, signIn } from "./api";

afterEach(() => vi.unstubAllGlobals());

function answer(status: number, body: unknown) {
  return vi.fn(async () => new Response(body === null ? null : JSON.stringify(body), { status }));
}

describe("api", () => {
  it("sends the session's anti-forgery token on every change, never on reads", async () => {
    const person = { id: "u", name: "A", role: "admin", org: "o", orgName: "O" };
    let f = answer(200, { user: person, csrfToken: "tok", expiresMs: 1 });
    vi.stubGlobal("fetch", f);
    await signIn("admin", "pw");
    f = answer(201, { id: "c", name: "班", trainerId: "t", learners: 0 });
    vi.stubGlobal("fetch", f);
    await addClass("班", "t");
    const [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/console/api/classes");
    expect((init.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
    f = answer(200, { user: person, csrfToken: "tok2", expiresMs: 1 });
    vi.stubGlobal("fetch", f);
    await session();
    const [, get] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect((get.headers as Record<string, string>)["x-csrf-token"]).toBeUndefined();
  });

  it("turns a refusal into its stable code, and no session into null", async () => {
    vi.stubGlobal("fetch", answer(401, { code: "console.no_session", message: "sign in first" }));
    expect(await session()).toBeNull();
    vi.stubGlobal("fetch", answer(429, { code: "console.account_locked", message: "later" }));
    const e = await signIn("a", "b").catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe("console.account_locked");
  });

  it("names the roster's media type by its file name", () => {
    expect(rosterType({ name: "名单.XLSX" })).toContain("spreadsheetml");
    expect(rosterType({ name: "roster.csv" })).toBe("text/csv");
  });
});

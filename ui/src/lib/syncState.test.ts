import { describe, expect, it } from "vitest";
import type { SyncView } from "../api";
import { summarize } from "./syncState";

function view(over: Partial<SyncView["status"]>, enrolled = true, pending = 3): SyncView {
  return {
    enrolled,
    serviceUrl: enrolled ? "http://127.0.0.1:8470" : null,
    orgName: null,
    owner: null,
    pending,
    status: { online: true, syncing: false, lastSuccessMs: 1_000, pending: 0, lastError: null, ...over },
  };
}

describe("summarize", () => {
  it("says what the bar shows", () => {
    expect(summarize(null).kind).toBe("unknown");
    expect(summarize(view({}, false)).kind).toBe("notEnrolled");
    expect(summarize(view({ syncing: true, online: false })).kind).toBe("syncing");
    expect(summarize(view({ online: false })).kind).toBe("offline");
    expect(summarize(view({ online: null })).kind).toBe("unknown");
    expect(summarize(view({})).kind).toBe("online");
    const err = summarize(view({ lastError: { code: "receipt.rejected", message: "x" } }));
    expect(err).toMatchObject({ kind: "error", errorCode: "receipt.rejected" });
    const slow = summarize(view({ lastError: { code: "sync.timeout", message: "408" } }));
    expect(slow).toMatchObject({ kind: "slowLink", errorCode: "sync.timeout" });
    const cut = summarize(view({ lastError: { code: "sync.interrupted", message: "reset" } }));
    expect(cut).toMatchObject({ kind: "slowLink", errorCode: "sync.interrupted" });
    const off = summarize(view({ online: false, lastError: { code: "sync.offline", message: "x" } }));
    expect(off.kind).toBe("offline");
  });
  it("takes the pending count from the store, not the last round", () => {
    expect(summarize(view({ pending: 0 }, true, 7)).pending).toBe(7);
    expect(summarize(view({ lastSuccessMs: 42 })).lastSuccessMs).toBe(42);
  });
});

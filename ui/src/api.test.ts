import { afterEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { api } = await import("./api");
const { ApiError } = await import("./lib/errors");

function inTauri(on: boolean) {
  if (on) vi.stubGlobal("window", { __TAURI_INTERNALS__: {} });
  else vi.unstubAllGlobals();
}

afterEach(() => {
  invoke.mockReset();
  vi.unstubAllGlobals();
});

describe("api", () => {
  it("calls the snake_case command with camelCase arguments", async () => {
    inTauri(true);
    invoke.mockResolvedValue({ seq: 1 });
    await api.signIn("abc");
    expect(invoke).toHaveBeenCalledWith("sign_in", { learnerId: "abc" });
    await api.addLearner("王小明");
    expect(invoke).toHaveBeenLastCalledWith("add_learner", { displayName: "王小明" });
  });

  it("turns a rejected {code, message} into an ApiError with that code", async () => {
    inTauri(true);
    invoke.mockRejectedValue({ code: "learner.unknown", message: "no learner x" });
    const error = await api.signIn("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: "learner.unknown", message: "no learner x" });
  });

  it("refuses clearly outside the desktop app", async () => {
    inTauri(false);
    await expect(api.deviceInfo()).rejects.toMatchObject({ code: "ipc.unavailable" });
    expect(invoke).not.toHaveBeenCalled();
  });
});

// The IPC call every generated command goes through (./generated/bindings.ts): outside the
// desktop app it fails with `ipc.unavailable`; a command's failure becomes an ApiError with the
// stable code the shell sent.
import { invoke } from "@tauri-apps/api/core";
import { ApiError, toErrorBody } from "./lib/errors";

export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  if (!inTauri()) {
    throw new ApiError("ipc.unavailable", "not running inside the Hearth desktop app");
  }
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    const body = toErrorBody(reason);
    throw new ApiError(body.code, body.message);
  }
}

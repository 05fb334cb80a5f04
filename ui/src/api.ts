// The one module that talks to Rust. Every command of src-tauri/src/commands.rs has one typed
// function here; every failure becomes an ApiError with a stable code.
import { invoke } from "@tauri-apps/api/core";
import { ApiError, toErrorBody } from "./lib/errors";

export interface Device {
  id: string;
  /** Ed25519 public key, hex. */
  publicKey: string;
  createdMs: number;
  dataDir: string;
}

export interface Learner {
  id: string;
  displayName: string;
  createdMs: number;
}

export interface RecordedReceipt {
  seq: number;
  id: string;
  learner: string;
  kind: string;
  wallMs: number;
}

export interface ReceiptSummary {
  seq: number;
  id: string;
  learner: string;
  kind: string;
  wallMs: number;
  acknowledged: boolean;
}

export interface LedgerStatus {
  headSeq: number;
  ackedSeq: number;
  pending: number;
}

function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
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

export const api = {
  deviceInfo: () => call<Device>("device_info"),
  listLearners: () => call<Learner[]>("list_learners"),
  addLearner: (displayName: string) => call<Learner>("add_learner", { displayName }),
  signIn: (learnerId: string) => call<RecordedReceipt>("sign_in", { learnerId }),
  recentReceipts: (limit = 50) => call<ReceiptSummary[]>("recent_receipts", { limit }),
  ledgerStatus: () => call<LedgerStatus>("ledger_status"),
};

export type Api = typeof api;

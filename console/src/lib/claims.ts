// Subsidy claims (补贴申领, issue #15 item 5): an administrator submits a class's claim, the
// supervisor of the institution's region reviews it. Through api.call like everything else.
import { call, json } from "./api";

export type ClaimState = "pending" | "approved" | "rejected";

export interface Claim {
  id: string;
  orgId: string;
  institution: string;
  classId: string;
  className: string;
  submittedBy: string;
  submittedByName: string;
  submittedMs: number;
  /** Hex SHA-256 of the frozen pack's bytes. */
  packSha256: string;
  learners: number;
  creditedMs: number;
  certificates: number;
  openFlags: number;
  state: ClaimState;
  reason?: string;
  decidedBy?: string;
  decidedByName?: string;
  decidedMs?: number;
}

export interface ClaimFlag {
  key: string;
  kind: string;
  code: string;
  detail: string;
}

export interface ClaimLearner {
  learnerId: string;
  name: string;
  nationalIdMasked: string;
  creditedMs: number;
  certificates: number;
  openFlags: ClaimFlag[];
}

export interface ClaimDetail extends Claim {
  learnerRows: ClaimLearner[];
}

const id = encodeURIComponent;

export const claims = () => call<Claim[]>("GET", "claims");
export const claim = (claimId: string) => call<ClaimDetail>("GET", `claims/${id(claimId)}`);
export const submitClaim = (classId: string) => call<Claim>("POST", `classes/${id(classId)}/claims`);
export const approveClaim = (claimId: string) => call<Claim>("POST", `claims/${id(claimId)}/approve`);
export const rejectClaim = (claimId: string, reason: string) =>
  call<Claim>("POST", `claims/${id(claimId)}/reject`, json({ reason }), "application/json");
/** The frozen signed pack, to download. */
export const packUrl = (claimId: string) => `/console/api/claims/${id(claimId)}/pack`;

/** Pending claims first (oldest first), then decided ones (newest first), as the service lists. */
export function reviewOrder(list: Claim[]): Claim[] {
  const pending = list.filter((c) => c.state === "pending").sort((a, b) => a.submittedMs - b.submittedMs);
  const decided = list.filter((c) => c.state !== "pending").sort((a, b) => b.submittedMs - a.submittedMs);
  return [...pending, ...decided];
}

/** Classes that may submit now: none of their claims is pending or approved. */
export function submittable<T extends { id: string }>(classes: T[], list: Claim[]): T[] {
  return classes.filter((c) => !list.some((k) => k.classId === c.id && k.state !== "rejected"));
}

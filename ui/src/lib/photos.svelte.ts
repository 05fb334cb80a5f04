// Photo checkpoints in the window (issue #17, docs/privacy.md). The shell decides everything
// (policy, consent, when a photo is wanted, sealing and the receipt) and arms the camera for one
// capture (`prepare_photo`); this module then takes one frame with ./camera and hands the JPEG
// back. The camera function can be replaced (unit tests).

import { api, type PhotoMoment, type PhotoStatus } from "../api";
import { capturePhoto } from "./camera";

/** Takes one JPEG frame from the webcam (after the shell armed it). */
export type Camera = () => Promise<Uint8Array>;

export const photos = $state<{ status: PhotoStatus | null; lastTaken: number | null; failed: string | null }>({
  status: null,
  lastTaken: null,
  failed: null,
});

let camera: Camera = () => capturePhoto();

export function setCamera(c: Camera) {
  camera = c;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function refreshPhotos(): Promise<PhotoStatus | null> {
  try {
    photos.status = await api.photoStatus();
  } catch {
    photos.status = null;
  }
  return photos.status;
}

/** Takes a photo if the shell wants one now (it arms the camera); answers whether one was kept.
 * A camera that fails costs nothing but the photo (`photos.failed` holds its code). */
export async function capture(moment: PhotoMoment): Promise<boolean> {
  if (!photos.status?.active) return false;
  try {
    if (!(await api.preparePhoto(moment))) return false;
    const jpeg = await camera();
    await api.takePhoto(toBase64(jpeg), moment);
    photos.lastTaken = Date.now();
    photos.failed = null;
    return true;
  } catch (e) {
    photos.failed = (e as { code?: string }).code ?? "camera.unavailable";
    return false;
  }
}

/** The answer to the consent screen (or a change in Settings); a photo at once on consent. */
export async function answerConsent(granted: boolean) {
  await api.recordPhotoConsent(granted);
  await refreshPhotos();
  if (granted) await capture("sign_in");
}

let timer: ReturnType<typeof setInterval> | null = null;

/** Every few seconds, takes the photo of a random moment when the shell says one is due. */
export function startPhotoLoop(everyMs = 5000) {
  stopPhotoLoop();
  timer = setInterval(() => {
    if (photos.status?.active) void capture("random");
  }, everyMs);
}

export function stopPhotoLoop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

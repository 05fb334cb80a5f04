// Photo checkpoints in the window (issue #17, docs/privacy.md). The shell decides everything
// (policy, consent, when a random photo is due, sealing and the receipt); this module asks it and
// hands it a JPEG from a camera. The camera is a function so the webcam module
// (`getUserMedia`, or the GUI tests' fake camera) plugs in with `setCamera`.

import { api, type PhotoStatus } from "../api";

/** Returns a JPEG from the webcam as base64 (or a `data:` URL), or throws. */
export type Camera = () => Promise<string>;

export const photos = $state<{ status: PhotoStatus | null; lastTaken: number | null; failed: boolean }>({
  status: null,
  lastTaken: null,
  failed: false,
});

let camera: Camera | null = null;

export function setCamera(c: Camera | null) {
  camera = c;
}

export async function refreshPhotos(): Promise<PhotoStatus | null> {
  try {
    photos.status = await api.photoStatus();
  } catch {
    photos.status = null;
  }
  return photos.status;
}

/** Takes a photo now if photos are active for the person at the keyboard. */
export async function capture(moment: "sign_in" | "random"): Promise<boolean> {
  if (!photos.status?.active || !camera) return false;
  try {
    const jpeg = await camera();
    await api.takePhoto(jpeg, moment);
    photos.lastTaken = Date.now();
    photos.failed = false;
    return true;
  } catch {
    photos.failed = true;
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

/** Asks the shell every few seconds whether a random photo is due, and takes it. */
export function startPhotoLoop(everyMs = 5000) {
  stopPhotoLoop();
  timer = setInterval(async () => {
    try {
      if (await api.photoDue()) await capture("random");
    } catch {
      // Nobody signed in, or the store is closed: nothing to photograph.
    }
  }, everyMs);
}

export function stopPhotoLoop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

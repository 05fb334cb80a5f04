// One photo from the webcam, for photo checkpoints (issue #17).
//
// The shell allows the camera only for a capture it asked for (src-tauri/src/camera.rs): call
// capturePhoto() right after the shell command that arms it, never on the page's own initiative
// (a request the shell did not ask for is refused: `camera.denied`). The stream lives only as
// long as one frame takes: its tracks are stopped as soon as the frame is drawn, also on failure,
// so the camera light goes off at once.
//
// In the GUI tests (HEARTH_FAKE_CAMERA=1) the camera is WebKitGTK's synthetic one, which WebKit
// grants without asking the shell; this module is the same code either way.
import { ApiError } from "./errors";

export type CameraErrorCode = "camera.unavailable" | "camera.denied";
/** The codes this module fails with (they arise in the window, not in Rust). */
export const CAMERA_CODES: readonly CameraErrorCode[] = ["camera.unavailable", "camera.denied"];

/** How long the first frame may take before the camera counts as unavailable. */
export const FIRST_FRAME_MS = 10_000;

export interface CaptureOptions {
  /** The size asked of the camera (it may give another one; the photo has the frame's size). */
  width?: number;
  height?: number;
  /** JPEG quality, 0–1. */
  quality?: number;
}

/** The stable code for a failed getUserMedia or capture (a DOMException's name, or anything). */
export function cameraErrorCode(reason: unknown): CameraErrorCode {
  const name =
    typeof reason === "object" && reason !== null && typeof (reason as { name?: unknown }).name === "string"
      ? (reason as { name: string }).name
      : "";
  // Refused by the shell's permission handler, by the user or by the platform's privacy settings.
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return "camera.denied";
  }
  // No camera (NotFoundError), busy or broken (NotReadableError, AbortError), or none that
  // fits (OverconstrainedError), and anything else.
  return "camera.unavailable";
}

/** A failed capture as the UI's error type, with the code its zh-CN/English text is found by. */
export function cameraError(reason: unknown): ApiError {
  if (reason instanceof ApiError && reason.code.startsWith("camera.")) return reason;
  const code = cameraErrorCode(reason);
  const detail = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return new ApiError(code, `camera: ${detail}`);
}

/** Whether `bytes` is a JPEG file: the SOI marker at the start and EOI at the end. */
export function isJpeg(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9;
}

/** Takes one frame from the webcam and answers it as JPEG bytes. Fails with `camera.denied` or
 * `camera.unavailable` (an ApiError). */
export async function capturePhoto(options: CaptureOptions = {}): Promise<Uint8Array> {
  const media = typeof navigator === "undefined" ? undefined : navigator.mediaDevices;
  if (!media || typeof media.getUserMedia !== "function") {
    throw new ApiError("camera.unavailable", "camera: this window has no media devices");
  }
  let stream: MediaStream;
  try {
    stream = await media.getUserMedia({
      audio: false,
      video: { width: { ideal: options.width ?? 640 }, height: { ideal: options.height ?? 480 } },
    });
  } catch (reason) {
    throw cameraError(reason);
  }
  const video = document.createElement("video");
  try {
    video.muted = true;
    video.playsInline = true;
    // In the document (WebKit may not decode a detached video) but invisible and inert.
    video.setAttribute("aria-hidden", "true");
    video.style.cssText = "position:fixed;left:0;top:0;width:1px;height:1px;opacity:0;pointer-events:none";
    document.body.append(video);
    video.srcObject = stream;
    await withTimeout(firstFrame(video), FIRST_FRAME_MS, "no frame from the camera");
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d");
    if (!context) throw new ApiError("camera.unavailable", "camera: no 2D canvas");
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    stopAll(stream);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", options.quality ?? 0.85));
    if (!blob) throw new ApiError("camera.unavailable", "camera: the frame could not be encoded");
    const bytes = new Uint8Array(await blob.arrayBuffer());
    if (!isJpeg(bytes)) throw new ApiError("camera.unavailable", "camera: the encoder gave no JPEG");
    return bytes;
  } catch (reason) {
    throw cameraError(reason);
  } finally {
    stopAll(stream);
    video.srcObject = null;
    video.remove();
  }
}

function stopAll(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}

/** Resolves once the video has a decoded frame of a known size. */
async function firstFrame(video: HTMLVideoElement): Promise<void> {
  await video.play();
  // Stops polling once the capture gave up (its cleanup clears srcObject).
  while (video.srcObject !== null && (video.videoWidth === 0 || video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA)) {
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError("camera.unavailable", `camera: ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The GUI tests call capturePhoto() in the real window through WebDriver (tests/src/camera.rs):
 * it is reachable as `window.__hearthCamera.capturePhoto`. Nothing is gained by a page that
 * calls it: the shell's permission handler decides whether the camera opens. */
export function exposeForTests(): void {
  (window as unknown as { __hearthCamera?: unknown }).__hearthCamera = Object.freeze({ capturePhoto });
}

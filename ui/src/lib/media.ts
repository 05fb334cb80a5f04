// URLs of cached media, served by the shell's `hearth-media` scheme (src-tauri/src/media.rs).
// WebKitGTK and WKWebView use `scheme://localhost/`, WebView2 on Windows `http://scheme.localhost/`.

export function mediaUrl(sha256: string, userAgent: string = globalThis.navigator?.userAgent ?? ""): string {
  const base = /Windows/i.test(userAgent) ? "http://hearth-media.localhost/" : "hearth-media://localhost/";
  return base + encodeURIComponent(sha256);
}

// WebKitGTK cannot play <audio>/<video> from a custom scheme, so on Linux the shell also serves
// the same files on loopback (src-tauri/src/media_server.rs) and tells the UI where (`media_base`).
let playBase = "";

/** Sets where audio and video are loaded from (empty: the scheme, as pictures). */
export function setPlayBase(base: string): void {
  playBase = base;
}

/** The URL an <audio> or <video> element plays a cached file from. */
export function playUrl(sha256: string, userAgent?: string): string {
  return playBase ? playBase + encodeURIComponent(sha256) : mediaUrl(sha256, userAgent);
}

/** The file an image reference in a lesson names: matched by its last path segment. */
export function findMedia<T extends { path: string }>(ref: string, files: readonly T[]): T | undefined {
  const name = ref.split(/[\\/]/).pop() ?? ref;
  return files.find((f) => f.path === ref) ?? files.find((f) => (f.path.split("/").pop() ?? "") === name);
}

/** First viewing of a video or audio file cannot skip ahead: the furthest allowed position. */
export const SEEK_SLACK_S = 2;

export function seekAllowed(targetS: number, furthestS: number, finished: boolean): boolean {
  return finished || targetS <= furthestS + SEEK_SLACK_S;
}

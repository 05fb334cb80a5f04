// Errors from Rust arrive as `{code, message}` (hearth_protocol::ErrorBody). The UI shows its
// own zh-CN or English text for every code it knows, and the English message otherwise.
import { hasMessage, type Translate } from "./i18n";

export interface ErrorBody {
  code: string;
  message: string;
}

export class ApiError extends Error implements ErrorBody {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ErrorBody).code === "string" &&
    typeof (value as ErrorBody).message === "string"
  );
}

/** Whatever a rejected `invoke` gives, as an error body. Tauri itself rejects with a plain
 * string when a command is refused by the capabilities (ACL) or missing. */
export function toErrorBody(reason: unknown): ErrorBody {
  if (reason instanceof ApiError || isErrorBody(reason)) {
    return { code: reason.code, message: reason.message };
  }
  if (typeof reason === "string") {
    const denied = /not allowed|denied|not found/i.test(reason);
    return { code: denied ? "ipc.denied" : "ipc", message: reason };
  }
  if (reason instanceof Error) return { code: "ui", message: reason.message };
  return { code: "ui", message: String(reason) };
}

/** The text to show for an error, in the current language. */
export function errorMessage(reason: unknown, t: Translate): string {
  const body = toErrorBody(reason);
  const key = `error.${body.code}`;
  if (hasMessage(key)) return t(key);
  return t("error.withCode", { message: t("error.unknown", { message: body.message }), code: body.code });
}

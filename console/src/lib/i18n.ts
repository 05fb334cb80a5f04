import { en } from "../messages/en";
import { type MessageKey, zhCN } from "../messages/zh-CN";

export type Locale = "zh-CN" | "en";

/** The message for `key` in `locale` (zh-CN when English lacks it), `{name}` filled in. */
export function translate(
  locale: Locale,
  key: MessageKey,
  params: Record<string, string | number> = {},
): string {
  const text = (locale === "en" ? en[key] : undefined) ?? zhCN[key];
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

/** Whether `key` is a message (error codes and row reasons are looked up by name). */
export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zhCN, key);
}

/** The message for an error code from the service, or the generic one with its text. */
export function errorText(locale: Locale, code: string, message: string): string {
  const key = `error.${code}`;
  return isMessageKey(key) ? translate(locale, key) : translate(locale, "error.generic", { message });
}

/** The reason a roster row is refused. */
export function reasonText(locale: Locale, code: string, message: string | null): string {
  const key = `reason.${code}`;
  return isMessageKey(key) ? translate(locale, key) : (message ?? code);
}

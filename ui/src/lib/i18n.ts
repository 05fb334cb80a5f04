// Message lookup: zh-CN is the default and the fallback; English is switchable.
import { zhCN, type MessageKey } from "../messages/zh-CN";
import { en } from "../messages/en";

export type Locale = "zh-CN" | "en";
export type { MessageKey };
export type Params = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: Params) => string;

export const DEFAULT_LOCALE: Locale = "zh-CN";
export const LOCALES: readonly Locale[] = ["zh-CN", "en"];

const catalogs: Record<Locale, Partial<Record<MessageKey, string>>> = {
  "zh-CN": zhCN,
  en,
};

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** True when `key` names a message (used to map error codes to messages). */
export function hasMessage(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zhCN, key);
}

/** Replaces `{name}` placeholders; unknown placeholders are left as they are. */
export function interpolate(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** The message for `key` in `locale`, falling back to zh-CN, then to the key itself. */
export function translate(locale: Locale, key: MessageKey, params?: Params): string {
  const template = catalogs[locale][key] ?? zhCN[key] ?? key;
  return interpolate(template, params);
}

export function translator(locale: Locale): Translate {
  return (key, params) => translate(locale, key, params);
}

/** The saved choice if valid, else zh-CN (not the OS language: the audience reads Chinese). */
export function initialLocale(saved: string | null | undefined): Locale {
  return isLocale(saved) ? saved : DEFAULT_LOCALE;
}

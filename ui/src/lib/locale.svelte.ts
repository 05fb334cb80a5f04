// The chosen language, shared by every component. Saved in localStorage (local to the app).
import { initialLocale, translator, type Locale } from "./i18n";

const STORAGE_KEY = "hearth.locale";

function saved(): string | null {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

export const lang = $state({ locale: initialLocale(saved()) as Locale });

export function setLocale(locale: Locale): void {
  lang.locale = locale;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, locale);
  } catch {
    // Storage may be unavailable; the choice then lasts for this run.
  }
  if (typeof document !== "undefined") document.documentElement.lang = locale;
}

/** Translate in the current language; reading `lang.locale` makes templates re-render. */
export const t = (...args: Parameters<ReturnType<typeof translator>>) =>
  translator(lang.locale)(...args);

/** Opening hours as minutes after midnight, local time; `end < start` spans midnight. */
export interface OpenHours {
  start: number;
  end: number;
  /** The original text, e.g. "09:00-18:00". */
  text: string;
}

/** Parse "HH:MM-HH:MM". Throws a clear error for anything else (a start-up mistake). */
export function parseOpenHours(text: string): OpenHours {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(text);
  const minutes = (h?: string, mm?: string) => Number(h) * 60 + Number(mm);
  if (!m || Number(m[1]) > 24 || Number(m[3]) > 24 || Number(m[2]) > 59 || Number(m[4]) > 59) {
    throw new Error(`OPEN_HOURS must look like 09:00-18:00, got "${text}".`);
  }
  return { start: minutes(m[1], m[2]), end: minutes(m[3], m[4]), text: text.trim() };
}

/** True when `date` (local time) falls inside the opening hours; no hours means always open. */
export function isOpen(hours: OpenHours | null, date: Date): boolean {
  if (!hours) return true;
  const t = date.getHours() * 60 + date.getMinutes();
  if (hours.start === hours.end) return true;
  return hours.start < hours.end ? t >= hours.start && t < hours.end : t >= hours.start || t < hours.end;
}

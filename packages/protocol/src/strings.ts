/**
 * The widget's strings: the key set, the English table (the only one the widget bundles), and
 * the tiny formatter for templates. Zod-free: the browser imports this file.
 *
 * A string is plain text, or a template with placeholders in braces: `{name} is typing…`.
 * Tables travel as JSON (the relay serves every locale but English in the site config), so no
 * string is a function. There are no plural rules (they would cost the bundle more than all its
 * templates): `star` is the form for exactly one, and a count is phrased so that it reads for
 * any number in every language (`Непрочитанных: {n}`).
 */
export const EN_STRINGS = {
  /** The launcher, closed. */
  open: 'Open chat',
  /** The launcher, open, and the panel's close button. */
  close: 'Close chat',
  /** Added to the launcher's label: `{n}` messages not seen yet. */
  unread: '{n} unread',
  /** The badge of a bot. */
  bot: 'Bot',
  /** The badge of a bot whose answers a language model writes. */
  ai: 'AI',
  /** A human agent without a name. */
  agent: 'Agent',
  /** The always-there button that asks for a human (also sent as the visitor's message). */
  human: 'Talk to a human',
  /** The label of the message box. */
  message: 'Message',
  placeholder: 'Type a message…',
  send: 'Send',
  sending: 'Sending…',
  sent: 'Sent',
  read: 'Read',
  failed: 'Not sent',
  retry: 'Retry',
  /** `{name}`: the agent's name, or the bot's badge. */
  typing: '{name} is typing…',
  /** `{n}`: the visitor's place in the queue for a human. */
  queue: 'You are #{n} in line',
  joined: '{name} joined the chat',
  left: '{name} left the chat',
  handoff: 'Connecting you to a human…',
  /** The rating prompt. */
  rate: 'How did we do?',
  /** A star button of the rating, and a rating in the log: one star… */
  star: '{n} star',
  /** …and more. */
  stars: '{n} stars',
  comment: 'Comment (optional)',
  submit: 'Submit',
  closed: 'This conversation has ended.',
  restart: 'Start a new conversation',
  /** Shown with the leave-a-message form when no agent is available. */
  away: 'We are away right now. Leave a message and we will reply by email.',
  email: 'Your email',
  leave: 'Send message',
  thanks: 'Thanks! We will reply by email.',
  offline: 'You are offline. Your messages will be sent when the connection is back.',
  /** While the connection is being made. */
  connecting: 'Connecting…',
  /** Flashed in the page title when a message arrives while the page is hidden. */
  notify: 'New message',
  /** Above the links an AI answer cites. */
  sources: 'Sources',
  up: 'Helpful',
  down: 'Not helpful',
  /** After an answer whose writing stopped midway. */
  interrupted: 'Answer interrupted',
  /** The composer's button that attaches a file or a photo. */
  attach: 'Attach a file',
  /** `{max}`: the largest file the site takes, as "10 MB". */
  tooBig: 'This file is too large (max {max}).',
  /** A file of a type the site does not take. */
  fileType: "This type of file can't be sent.",
  /** The upload failed: the storage refused it, or the network went away. */
  upFail: 'The file could not be sent.',
  /** Puts away the message bubble over the closed launcher. */
  dismiss: 'Dismiss',
  /** The header button that lists the visitor's earlier conversations, and that list's title. */
  past: 'Past conversations',
  /** The list of earlier conversations, empty. */
  noPast: 'No past conversations yet.',
  /** Leaves a past conversation (to the list) or the list (to the chat). */
  back: 'Back',
};

/** A key of the widget's string table. */
export type StringKey = keyof typeof EN_STRINGS;
/** A whole string table: every key, as plain text or a template. */
export type WidgetStrings = Record<StringKey, string>;

/** Every key of the string table, in the English table's order. */
export const STRING_KEYS = Object.keys(EN_STRINGS) as StringKey[];

const PLACEHOLDER = /\{(\w+)\}/g;

/** The names of a template's placeholders, sorted and without repeats (`{n} of {m}` → `['m', 'n']`). */
export function templateParams(template: string): string[] {
  return [...new Set(Array.from(template.matchAll(PLACEHOLDER), (m) => m[1]!))].sort();
}

/**
 * Fill a template's placeholders. A text value is wrapped in Unicode isolates (FSI … PDI), so a
 * name in another script cannot pull the punctuation around it to the wrong side (an English
 * name in an Arabic sentence); numbers are not. An unknown placeholder stays as written.
 */
export function formatString(template: string, params: Record<string, string | number>): string {
  return template.replace(PLACEHOLDER, (all, key: string) => {
    const v = params[key];
    return v == null ? all : typeof v == 'string' ? `\u2068${v}\u2069` : '' + v;
  });
}

/** `rtl` for a tag of a language written right to left (Arabic, Hebrew, Persian, Urdu and a few more), else `ltr`. */
export function localeDir(tag: string): 'ltr' | 'rtl' {
  return /^(ar|arc|ckb|dv|fa|he|iw|ps|sd|ug|ur|yi)\b/i.test(tag) && !/-latn\b/i.test(tag) ? 'rtl' : 'ltr';
}

/**
 * The best of `candidates` for the BCP 47 tag `wanted`, or `undefined` when none shares its
 * language: the same tag (any case); else the tag cut short one subtag at a time
 * (`pt-BR` → `pt`, `zh-Hant-TW` → `zh-Hant` → `zh`); else the first candidate of the same
 * language (`zh-TW` → `zh-CN`, `pt` → `pt-BR`). Earlier candidates win ties.
 */
export function matchLocale(wanted: string | undefined, candidates: readonly string[]): string | undefined {
  if (!wanted) return undefined;
  const lower = candidates.map((c) => c.toLowerCase());
  const parts = wanted.toLowerCase().split(/[-_]/);
  for (let i = parts.length; i > 0; i--) {
    const at = lower.indexOf(parts.slice(0, i).join('-'));
    if (at >= 0) return candidates[at];
  }
  const at = lower.findIndex((c) => c.split('-')[0] === parts[0]);
  return at >= 0 ? candidates[at] : undefined;
}

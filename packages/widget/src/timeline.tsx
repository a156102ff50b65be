import type { ChatMessage, TimelineItem } from '@parley/client';
import type { ConversationEvent } from '@parley/protocol';
import { Body } from './message-body.js';
import { Extra } from './lazy.js';
import type { View } from './view.js';

const isDraft = (i: TimelineItem) => (i as ChatMessage).draft;

/**
 * The conversation: the greeting, then messages and notices, as a polite live log. Answers
 * still being written sit after the log, outside it: a screen reader does not hear every
 * word as it arrives, but the finished message once, when it enters the log.
 */
export function Timeline({ v }: { v: View }) {
  const { s } = v;
  // A proactive message the visitor opened the chat from takes the greeting's place.
  const greeting = v.ui.g || s.greeting;
  const items: TimelineItem[] = greeting
    ? [
        {
          kind: 'msg',
          id: 'greeting',
          ts: 0,
          from: { role: 'bot' },
          body: { type: 'quick_replies', text: greeting.text, replies: greeting.quickReplies },
        },
        ...s.timeline,
      ]
    : s.timeline;
  let last: ChatMessage | undefined;
  let lastVisitor: ChatMessage | undefined;
  for (const item of items) {
    if (item.kind !== 'msg') continue;
    last = item;
    if (item.from.role === 'visitor') lastVisitor = item;
  }
  const show = (item: TimelineItem) =>
    item.kind === 'msg' ? (
      <Bubble key={item.id} v={v} m={item} live={item === last} mine={item === lastVisitor} />
    ) : (
      <Notice key={item.id} v={v} e={item.event} />
    );
  return (
    <div class="m">
      <div class="lg" role="log" aria-live="polite">
        {items.filter((i) => !isDraft(i)).map(show)}
      </div>
      {items.filter(isDraft).map(show)}
    </div>
  );
}

function Notice({ v, e }: { v: View; e: ConversationEvent }) {
  const { t } = v;
  const text =
    e.type === 'agent_joined'
      ? v.f(t.joined, { name: e.agent.name || t.agent })
      : e.type === 'agent_left'
        ? v.f(t.left, { name: e.agent.name || t.agent })
        : e.type === 'handoff' && e.state === 'requested'
          ? t.handoff
          : ''; // a close shows once, in the status line under the log
  return text ? <p class="e">{text}</p> : null;
}

/**
 * One message. Others' messages carry a label (Bot or AI, or the agent's name); the visitor's
 * carry a delivery status (always while sending or failed, on the last one otherwise). An AI
 * answer streams in with a caret, then offers 👍/👎; an interrupted one says so.
 */
function Bubble({ v, m, live, mine }: { v: View; m: ChatMessage; live: boolean; mine: boolean }) {
  const { t, s } = v;
  const role = m.from.role;
  const visitor = role === 'visitor';
  const status = m.status;
  const rate = role === 'bot' && m.from.ai && !m.draft;
  return (
    <div class={visitor ? 'g v' : m.draft ? 'g z' : 'g'}>
      {!visitor && (
        <span class="t">
          {role === 'bot' ? (
            <>
              {m.from.name && <bdi>{m.from.name} </bdi>}
              <span class="bd">{m.from.ai ? t.ai : t.bot}</span>
            </>
          ) : (
            <bdi>{m.from.name || (role === 'agent' ? t.agent : s.siteName)}</bdi>
          )}
        </span>
      )}
      <Body v={v} m={m} live={live && !visitor} />
      <span class="t">
        {m.ts > 0 && <time dateTime={new Date(m.ts).toISOString()}>{v.time(m.ts)}</time>}
        {m.incomplete && ` · ${t.interrupted}`}
        {visitor && status && (status === 'sending' || status === 'failed' || mine) && (
          <span class={status === 'failed' ? 'fl' : ''}> · {t[status]}</span>
        )}
        {status === 'failed' && (
          <button class="rt" onClick={() => v.c.retry(m.id)}>
            {t.retry}
          </button>
        )}
        {rate &&
          (['up', 'down'] as const).map((x) => (
            <button
              key={x}
              class="fb"
              aria-label={t[x]}
              aria-pressed={m.feedback === x}
              onClick={() => {
                v.c.feedback(m.id, x);
                v.set({ fb: x === 'down' ? m.id : '' });
              }}
            >
              {x === 'up' ? '👍' : '👎'}
            </button>
          ))}
      </span>
      {/* Its comment box, in the extras (feedback-comment.tsx). */}
      {rate && v.ui.fb === m.id && <Extra of="Comment" v={v} m={m} />}
    </div>
  );
}

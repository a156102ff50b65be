import type { ChatMessage, TimelineItem } from '@parley/client';
import type { ConversationEvent } from '@parley/protocol';
import { Body } from './message-body.js';
import type { View } from './view.js';

/** The conversation: the greeting, then messages and notices, as a polite live log. */
export function Timeline({ v }: { v: View }) {
  const { s } = v;
  const items: TimelineItem[] = s.greeting
    ? [
        {
          kind: 'msg',
          id: 'greeting',
          ts: 0,
          from: { role: 'bot' },
          body: { type: 'quick_replies', text: s.greeting.text, replies: s.greeting.quickReplies },
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
  return (
    <div class="m" role="log" aria-live="polite">
      {items.map((item) =>
        item.kind === 'msg' ? (
          <Bubble key={item.id} v={v} m={item} live={item === last} mine={item === lastVisitor} />
        ) : (
          <Notice key={item.id} v={v} e={item.event} />
        ),
      )}
    </div>
  );
}

function Notice({ v, e }: { v: View; e: ConversationEvent }) {
  const { t } = v;
  const text =
    e.type === 'agent_joined'
      ? t.joined(e.agent.name || t.agent)
      : e.type === 'agent_left'
        ? t.left(e.agent.name || t.agent)
        : e.type === 'handoff' && e.state === 'requested'
          ? t.handoff
          : e.type === 'closed'
            ? t.closed
            : '';
  return text ? <p class="e">{text}</p> : null;
}

/**
 * One message. Others' messages carry a label (Bot, or the agent's name); the visitor's
 * carry a delivery status (always while sending or failed, on the last one otherwise).
 */
function Bubble({ v, m, live, mine }: { v: View; m: ChatMessage; live: boolean; mine: boolean }) {
  const { t, s } = v;
  const role = m.from.role;
  const visitor = role === 'visitor';
  const status = m.status;
  return (
    <div class={visitor ? 'g v' : 'g'}>
      {!visitor && (
        <span class="t">
          {role === 'bot' ? (
            <>
              {m.from.name && `${m.from.name} `}
              <span class="bd">{t.bot}</span>
            </>
          ) : (
            m.from.name || (role === 'agent' ? t.agent : s.siteName)
          )}
        </span>
      )}
      <Body v={v} m={m} live={live && !visitor} />
      <span class="t">
        {m.ts > 0 && <time dateTime={new Date(m.ts).toISOString()}>{v.time(m.ts)}</time>}
        {visitor && status && (status === 'sending' || status === 'failed' || mine) && (
          <span class={status === 'failed' ? 'fl' : ''}> · {t[status]}</span>
        )}
        {status === 'failed' && (
          <button class="rt" onClick={() => v.c.retry(m.id)}>
            {t.retry}
          </button>
        )}
      </span>
    </div>
  );
}

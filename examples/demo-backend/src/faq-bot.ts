import { HANDOFF_VALUE, type OutgoingMessage, type Sender } from '@parley/backend';
import { findOrder, findProducts, type Product } from './catalog.js';
import { faqEntry } from './faq.js';
import type { Locale } from './locale.js';

/** How the bot signs its messages: the widget labels them as the bot's. */
export const BOT: Sender & { role: 'bot' } = { role: 'bot', name: 'Parley Bot' };

/** A quick-reply button. */
export type Button = Extract<OutgoingMessage['body'], { type: 'quick_replies' }>['replies'][number];

/** What the bot wants to say, and whether the visitor asked for a human. */
export interface BotAnswer {
  messages: OutgoingMessage[];
  /** The visitor asked for a human: the caller starts the handoff and says so. */
  handoff?: boolean;
}

const T = {
  en: {
    shipping: faqEntry('shipping').answer.en,
    returns: faqEntry('returns').answer.en,
    sizes: faqEntry('sizes').answer.en,
    orderAsk: 'Tell me your order number, like "order 1001", and I will look it up.',
    orderFound: (n: string) => `Here is order #${n}:`,
    orderMissing: (n: string) => `I can't find order #${n}. Please check the number in your confirmation email, or talk to a human.`,
    products: 'Here is what we have:',
    hello: 'Hi! I am the Parley Bot. What can I help you with?',
    thanks: "You're welcome! Anything else?",
    fallback: "Sorry, I didn't get that. Pick a topic, or talk to a human.",
    more: 'Anything else?',
    view: 'View product',
    sizeGuide: 'Size guide',
    track: 'Track parcel',
    returnItem: 'Return an item',
    menu: { shipping: 'Shipping time', returns: 'Returns', sizes: 'Sizes', order_status: 'Order status', human: 'Talk to a human' },
  },
  'zh-CN': {
    shipping: faqEntry('shipping').answer['zh-CN'],
    returns: faqEntry('returns').answer['zh-CN'],
    sizes: faqEntry('sizes').answer['zh-CN'],
    orderAsk: '请告诉我您的订单号，例如「订单 1001」，我来帮您查询。',
    orderFound: (n: string) => `这是订单 #${n}：`,
    orderMissing: (n: string) => `没有找到订单 #${n}。请核对确认邮件中的订单号，或转人工客服。`,
    products: '为您推荐：',
    hello: '您好！我是 Parley 机器人，有什么可以帮您？',
    thanks: '不客气！还有其他问题吗？',
    fallback: '抱歉，我没有理解。请选择一个话题，或转人工客服。',
    more: '还有其他问题吗？',
    view: '查看商品',
    sizeGuide: '尺码指南',
    track: '查看物流',
    returnItem: '申请退货',
    menu: { shipping: '配送时间', returns: '退换货', sizes: '尺码', order_status: '订单状态', human: '转人工' },
  },
} as const;

/** Words that ask for a person, in either language. */
export const HANDOFF_WORDS = /\b(human|agent|real person|operator|representative)\b|转人工|人工|真人|客服/i;
const ORDER_NUMBER = /(?:order|订单|#)\s*(?:no\.?|number|号)?\s*#?\s*(\d{3,10})/i;

const INTENTS: [RegExp, 'shipping' | 'returns' | 'sizes' | 'order_status'][] = [
  [/\b(ship(ping)?|deliver(y|ed)?|arrive|how long|dispatch)\b|发货|配送|快递|运费|多久|到货/i, 'shipping'],
  [/\b(returns?|refunds?|exchanges?|send (it )?back)\b|退货|退款|换货|退换/i, 'returns'],
  [/\b(sizes?|sizing|fit|fits)\b|尺码|尺寸|大小|码数/i, 'sizes'],
  [/\b(order|track(ing)?|where is my|parcel|package)\b|订单|物流|包裹/i, 'order_status'],
];

/** The menu under every answer: the visitor always has a tap to the next step, and to a human. */
export function menu(locale: Locale, except: readonly string[] = []): Button[] {
  const m = T[locale].menu;
  return [
    { label: m.shipping, value: 'shipping' },
    { label: m.returns, value: 'returns' },
    { label: m.sizes, value: 'sizes' },
    { label: m.order_status, value: 'order_status' },
    { label: m.human, value: HANDOFF_VALUE },
  ].filter((r) => !except.includes(r.value));
}

function say(text: string, locale: Locale, except?: string): OutgoingMessage {
  return { from: BOT, body: { type: 'quick_replies', text, replies: menu(locale, except ? [except] : []) } };
}

function text(value: string): OutgoingMessage {
  return { from: BOT, body: { type: 'text', text: value } };
}

function productCard(p: Product, locale: Locale, shopUrl: string): OutgoingMessage {
  return {
    from: BOT,
    body: {
      type: 'card',
      kind: 'product',
      title: p.title[locale],
      price: p.price,
      imageUrl: shopUrl + p.image,
      url: shopUrl + p.page,
      actions: [
        { label: T[locale].view, url: shopUrl + p.page },
        { label: T[locale].sizeGuide, value: 'sizes' },
      ],
    },
  };
}

function orderAnswer(number: string, locale: Locale, shopUrl: string): OutgoingMessage[] {
  const order = findOrder(number);
  if (!order) return [say(T[locale].orderMissing(number), locale)];
  return [
    text(T[locale].orderFound(number)),
    {
      from: BOT,
      body: {
        type: 'card',
        kind: 'order',
        title: `Order #${order.number}`,
        subtitle: order.status[locale],
        price: order.total,
        imageUrl: `${shopUrl}/img/order.svg`,
        url: order.trackingUrl,
        actions: [
          { label: T[locale].track, url: order.trackingUrl },
          { label: T[locale].returnItem, value: 'returns' },
          { label: T[locale].menu.human, value: HANDOFF_VALUE },
        ],
      },
    },
  ];
}

function topic(value: string, locale: Locale): OutgoingMessage[] | undefined {
  switch (value) {
    case 'shipping':
    case 'returns':
    case 'sizes':
      return [say(T[locale][value], locale, value)];
    case 'order_status':
      return [say(T[locale].orderAsk, locale, 'order_status')];
    default:
      return undefined;
  }
}

/** The bot's answer to a visitor's text. */
export function answerText(input: string, locale: Locale, shopUrl: string): BotAnswer {
  const words = input.trim();
  if (HANDOFF_WORDS.test(words)) return { messages: [], handoff: true };
  const order = ORDER_NUMBER.exec(words);
  if (order?.[1]) return { messages: orderAnswer(order[1], locale, shopUrl) };
  const products = findProducts(words);
  if (products.length) {
    return { messages: [text(T[locale].products), ...products.map((p) => productCard(p, locale, shopUrl)), say(T[locale].more, locale)] };
  }
  for (const [pattern, intent] of INTENTS) if (pattern.test(words)) return { messages: topic(intent, locale)! };
  if (/^(hi|hello|hey|good (morning|afternoon|evening))\b|^(你好|您好|嗨)/i.test(words)) return { messages: [say(T[locale].hello, locale)] };
  if (/\b(thanks?|thank you|thx)\b|谢谢|多谢/i.test(words)) return { messages: [say(T[locale].thanks, locale)] };
  return { messages: [say(T[locale].fallback, locale)] };
}

/** The bot's answer to a tapped button. */
export function answerPostback(value: string, locale: Locale): BotAnswer {
  if (value === HANDOFF_VALUE) return { messages: [], handoff: true };
  return { messages: topic(value, locale) ?? [say(T[locale].fallback, locale)] };
}

/** Texts the handoff flow says, in the visitor's language. */
export const HANDOFF_TEXT = {
  en: {
    queued: (position: number) =>
      position <= 1
        ? 'Connecting you to a human. You are next in line; an agent will be with you shortly.'
        : `Connecting you to a human. You are number ${position} in the queue; an agent will be with you shortly.`,
    offline: 'Our team is offline right now. Leave your email and a message in the form, and we will get back to you.',
  },
  'zh-CN': {
    queued: (position: number) =>
      position <= 1 ? '正在为您转接人工客服，您是下一位，请稍候。' : `正在为您转接人工客服，您前面还有 ${position - 1} 位，请稍候。`,
    offline: '客服目前不在线。请在表单中留下您的邮箱和留言，我们会尽快回复您。',
  },
} as const;

/** The bot's thanks for a message left while offline. */
export function contactThanks(email: string, locale: Locale): OutgoingMessage {
  return text(locale === 'zh-CN' ? `谢谢！我们会通过 ${email} 回复您。` : `Thanks! We will answer at ${email} within one business day.`);
}

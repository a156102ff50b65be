import { HANDOFF_VALUE } from '@parley/backend';
import { ORDERS, PRODUCTS, type Order, type Product } from './catalog.js';
import { FAQ, faqEntry, type FaqEntry } from './faq.js';
import { menu, type Button } from './faq-bot.js';
import type { Locale } from './locale.js';

// The demo's AI answerer: retrieval over the shop's help pages, products and orders, with no
// network and no model. It scores every entry against the question (BM25 over words, and
// over character pairs for Chinese), keeps the best one or two, and writes the answer from
// them alone, linking each one. When nothing is relevant it says so and offers a human,
// instead of guessing. A merchant would put a language model here; the streaming, sources
// and handoff around it stay the same.

/** Where a part of an answer came from: shown under it as a link. */
interface Source {
  title: string;
  url: string;
}

export interface AiAnswer {
  text: string;
  sources: Source[];
  quickReplies: Button[];
  /** What the answer was built from: `faq:shipping`, `product:trail-runner-2`, `order:1001`; empty when nothing was. */
  basis: string[];
}

type Doc = { id: string; terms: Map<string, number>; length: number } & (
  | { kind: 'faq'; entry: FaqEntry }
  | { kind: 'product'; product: Product }
);

const STOP = new Set(
  (
    'a an the is are was were be been am do does did doing can could would should will shall may might must i me my mine you your yours we our us ' +
    'it its this that these those they them their of to in on at for from with and or but if how what when where which who whom why about any some ' +
    'have has had get got there here please hi hello hey thanks thank just so not no yes as by up out into than then too very much many more most ' +
    'tell know want need like would ok okay also still one all'
  ).split(' '),
);
/** Chinese characters too common to count on their own (pairs of them still count). */
const CJK_STOP = new Set('的了吗呢吧啊是我你您他她它们在有和与或请问么什怎这那个一不也都就要会能可以多少'.split(''));
const CJK = /[\u3400-\u9fff\uf900-\ufaff]+/g;

/** A rough English stem, the same on both sides of the search: "shipping" and "shipped" → "ship". */
function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  if (w !== word && w.length > 3 && w.at(-1) === w.at(-2) && !'lsz'.includes(w.at(-1)!)) w = w.slice(0, -1);
  return w;
}

/**
 * The search terms of a text: English words (stemmed, without filler words), and for Chinese,
 * which has no spaces, every pair of neighbouring characters, plus (with `single`) the single
 * characters that carry meaning. Entries index single characters only from their curated
 * terms ("鞋"), not from running text, where they match almost anything.
 */
function tokenize(text: string, single = true): string[] {
  const lower = text.normalize('NFKC').toLowerCase();
  const out: string[] = [];
  for (const word of lower.match(/[a-z0-9]+/g) ?? []) if (!STOP.has(word)) out.push(stem(word));
  for (const run of lower.match(CJK) ?? []) {
    if (single) for (const ch of run) if (!CJK_STOP.has(ch)) out.push(ch);
    for (let i = 0; i + 1 < run.length; i++) out.push(run.slice(i, i + 2));
  }
  return out;
}

function doc(id: string, weighted: [text: string, weight: number, single?: boolean][]): { id: string; terms: Map<string, number>; length: number } {
  const terms = new Map<string, number>();
  let length = 0;
  for (const [text, weight, single = false] of weighted) {
    for (const term of tokenize(text, single)) {
      terms.set(term, (terms.get(term) ?? 0) + weight);
      length += weight;
    }
  }
  return { id, terms, length };
}

const both = (r: Record<Locale, string>) => `${r.en} ${r['zh-CN']}`;

/** Titles and extra terms count twice: they say what an entry is about. */
const DOCS: readonly Doc[] = [
  ...FAQ.map((entry): Doc => ({
    ...doc(`faq:${entry.topic}`, [
      [both(entry.title), 2],
      [both(entry.terms), 2, true],
      [both(entry.answer), 1],
    ]),
    kind: 'faq',
    entry,
  })),
  ...PRODUCTS.map((product): Doc => ({
    ...doc(`product:${product.id}`, [
      [both(product.title), 2],
      [both(product.terms), 2, true],
      [both(product.description), 1],
    ]),
    kind: 'product',
    product,
  })),
];
const AVG_LENGTH = DOCS.reduce((sum, d) => sum + d.length, 0) / DOCS.length;
const DF = new Map<string, number>();
for (const d of DOCS) for (const term of d.terms.keys()) DF.set(term, (DF.get(term) ?? 0) + 1);

const K1 = 1.2;
const B = 0.75;
/** Below this score an entry is not about the question. */
const MIN_SCORE = 1.2;
/** A second entry joins the answer when it scores at least this share of the best. */
const SECOND_SHARE = 0.6;
/** …and a product, after a help entry, at least this share. */
const PRODUCT_SHARE = 0.7;

/** Okapi BM25 of every entry against the question, best first; entries that share no term are left out. */
export function search(question: string): { id: string; score: number }[] {
  const query = [...new Set(tokenize(question))];
  const scored: { id: string; score: number }[] = [];
  for (const d of DOCS) {
    let score = 0;
    for (const term of query) {
      const tf = d.terms.get(term);
      if (!tf) continue;
      const df = DF.get(term)!;
      const idf = Math.log(1 + (DOCS.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / AVG_LENGTH));
    }
    if (score > 0) scored.push({ id: d.id, score });
  }
  return scored.sort((a, b) => b.score - a.score);
}

const T = {
  en: {
    order: (o: Order) => `Order #${o.number} (${o.items}, ${o.total}): ${o.status.en}. The tracking link below follows the parcel.`,
    orderSource: (n: string) => `Tracking for order #${n}`,
    orderMissing: (n: string) =>
      `I can't find order #${n}. Please check the number in your confirmation email; if it still doesn't show up, a person from our team can look into it.`,
    product: (p: Product) => `${p.title.en} — ${p.price}. ${p.description.en}`,
    hello: 'Hi! I am the shop’s AI assistant. Ask me about shipping, returns, sizes, payment, our products or your order.',
    thanks: "You're welcome! Anything else I can look up for you?",
    nothing:
      "I couldn't find anything about that in our help pages or our catalogue, and I'd rather not guess. A person from our team can help: tap “Talk to a human”.",
  },
  'zh-CN': {
    order: (o: Order) => `订单 #${o.number}（${o.items}，${o.total}）：${o.status['zh-CN']}。可通过下方的物流链接查看包裹。`,
    orderSource: (n: string) => `订单 #${n} 物流`,
    orderMissing: (n: string) => `没有找到订单 #${n}。请核对确认邮件中的订单号；如果仍然找不到，我们的客服可以帮您查询。`,
    product: (p: Product) => `${p.title['zh-CN']} — ${p.price}。${p.description['zh-CN']}`,
    hello: '您好！我是本店的 AI 助手。可以问我配送、退货、尺码、支付、商品或您的订单。',
    thanks: '不客气！还有什么需要我帮您查的吗？',
    nothing: '我在帮助页面和商品目录中没有找到相关内容，不想随便猜测。我们的客服可以帮您：请点击「转人工」。',
  },
} as const;

const ORDER_WORDS = /\b(order|track(ing)?|parcel|package)\b|订单|物流|包裹|单号/i;
const GREETING = /^\s*(hi|hello|hey|good (morning|afternoon|evening))\b|^\s*(你好|您好|嗨)/i;
const THANKS = /\b(thanks?|thank you|thx)\b|谢谢|多谢/i;

/**
 * Answer a visitor's question from the shop's own data, in `locale`. `shopUrl` is the base
 * of the help and product pages the sources link to.
 */
export function answerQuestion(question: string, locale: Locale, shopUrl: string): AiAnswer {
  const t = T[locale];
  const parts: string[] = [];
  const sources: Source[] = [];
  const basis: string[] = [];
  const answered: string[] = [];
  const add = (id: string, text: string, source: Source) => {
    basis.push(id);
    parts.push(text);
    sources.push(source);
  };

  // An order number is looked up exactly; no score decides it.
  const numbers = question.match(/\d{3,10}/g) ?? [];
  const order = numbers.map((n) => ORDERS.find((o) => o.number === n)).find((o) => o !== undefined);
  if (order) {
    add(`order:${order.number}`, t.order(order), { title: t.orderSource(order.number), url: order.trackingUrl });
    answered.push('order_status');
  } else if (numbers[0] && ORDER_WORDS.test(question)) {
    const help = faqEntry('order_status');
    add(`order:${numbers[0]}`, t.orderMissing(numbers[0]), { title: help.title[locale], url: shopUrl + help.page });
    answered.push('order_status');
    return finish();
  }

  const hits = search(question);
  const best = hits[0]?.score ?? 0;
  for (const hit of hits) {
    if (hit.score < MIN_SCORE || hit.score < best * SECOND_SHARE || basis.length >= 2) break;
    const d = DOCS.find((x) => x.id === hit.id)!;
    // A product named in passing ("can I return my shoes?") is not what a help answer is about.
    if (parts.length && d.kind === 'product' && hit.score < best * PRODUCT_SHARE) continue;
    if (d.kind === 'faq') {
      // Asked about an order we found: its status says more than how tracking works.
      if (order && d.entry.topic === 'order_status') continue;
      add(d.id, d.entry.answer[locale], { title: d.entry.title[locale], url: shopUrl + d.entry.page });
      answered.push(d.entry.topic);
    } else {
      add(d.id, t.product(d.product), { title: d.product.title[locale], url: shopUrl + d.product.page });
    }
  }
  return finish();

  function finish(): AiAnswer {
    if (parts.length) return { text: parts.join('\n\n'), sources, quickReplies: menu(locale, answered), basis };
    if (GREETING.test(question)) return { text: t.hello, sources: [], quickReplies: menu(locale), basis: [] };
    if (THANKS.test(question)) return { text: t.thanks, sources: [], quickReplies: menu(locale), basis: [] };
    // Nothing relevant: say so, and put the way to a person first.
    const replies = menu(locale);
    const human = replies.find((r) => r.value === HANDOFF_VALUE)!;
    return { text: t.nothing, sources: [], quickReplies: [human, ...replies.filter((r) => r !== human)], basis: [] };
  }
}

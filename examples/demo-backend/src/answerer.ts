import { HANDOFF_VALUE } from '@parley/backend';
import { ORDERS, PRODUCTS, orderItems, orderStatus, orderTotal, productPrice, type Product } from './catalog.js';
import { FAQ, faqEntry, type FaqEntry } from './faq.js';
import { menu, type Button } from './faq-bot.js';
import { formatMoney, type Locale } from './locale.js';

// The demo's AI answerer: retrieval over the shop's help pages, products and orders, with no
// network and no model. It scores every entry against the question (BM25 over words, and
// over character pairs for Chinese, Japanese and Korean; each entry in English, Chinese and
// the visitor's language), keeps the best one or two, and writes the answer from
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
    'tell know want need like would ok okay also still one all ' +
    // The same filler in the other languages the demo speaks (accents dropped, as the search drops them).
    'el la los las un una unos unas de del al y o que en es son por para con se mi mis tu su sus me lo le les hay como cuando donde cual quiero puedo ' +
    'hace hacer tiene tienen esta estan estoy ser soy ' +
    'le la les un une des du de et ou que qui en est sont pour par avec se ma mes mon ton son ses je vous nous il elle comment quand ou quel quelle veux peux ' +
    'fait faire a ai avez ont etre suis ' +
    'der die das den dem des ein eine einen einem und oder ist sind fur mit von zu im in am ich sie wir mein meine wie wann wo was kann ich will ' +
    'hat haben habe bin bist gibt es wird ' +
    'o a os as um uma de do da dos das e ou que em no na por para com se meu minha eu voce como quando onde qual quero posso ' +
    'faz fazer tem tenho esta estao sou ' +
    'и в во не на с со что как я мы вы он она это у по к ли мой моя мне можно когда где какой какая есть будет был была ' +
    'في من على الى إلى عن مع هل ما ماذا كيف متى اين أين هذا هذه انا أنا لي هو هي و'
  ).split(' '),
);
/** Chinese characters too common to count on their own (pairs of them still count). */
const CJK_STOP = new Set('的了吗呢吧啊是我你您他她它们在有和与或请问么什怎这那个一不也都就要会能可以多少'.split(''));
/** Runs of Chinese characters, Japanese kana and Korean syllables: searched by character pairs. */
const CJK = /[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]+/g;
const HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
/** Words of the scripts written with spaces (Latin, Cyrillic, Arabic, …), digits included. */
const WORD = /[\p{L}\p{N}]+/gu;
/** Kana and Korean pairs too common to tell entries apart (polite endings and particles). */
const PAIR_STOP = new Set(
  ['です', 'ます', 'すか', 'しま', 'ませ', 'せん', 'さい', 'くだ', 'でき', 'きま', 'あり', 'りま', 'いま', 'ある', 'ない', 'には', 'では', 'ので', 'から'].concat(
    ['니다', '습니', '합니', '나요', '까요', '세요', '어요', '에서', '으로', '있나', '있습', '있어', '없나', '하나'],
  ),
);

/**
 * A rough English stem, the same on both sides of the search: "shipping" and "shipped" → "ship".
 * Words of the other languages go through it too; it only takes a plural "s" off most of them.
 */
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
 * The search terms of a text: words (stemmed, without accents or filler words), and for Chinese,
 * Japanese and Korean, which do not put spaces between words (or glue particles to them), every
 * pair of neighbouring characters, plus (with `single`) the single Chinese characters that
 * carry meaning. Entries index single characters only from their curated terms ("鞋"), not
 * from running text, where they match almost anything.
 */
function tokenize(text: string, single = true): string[] {
  const lower = text.normalize('NFKC').toLowerCase();
  const out: string[] = [];
  // Accents and Arabic vowel marks dropped, so "envio" finds "envío".
  const spaced = lower.replace(CJK, ' ').normalize('NFD').replace(/\p{M}/gu, '');
  for (const word of spaced.match(WORD) ?? []) if (!STOP.has(word)) out.push(stem(word));
  for (const run of lower.match(CJK) ?? []) {
    if (single) for (const ch of run) if (HAN.test(ch) && !CJK_STOP.has(ch)) out.push(ch);
    for (let i = 0; i + 1 < run.length; i++) {
      const pair = run.slice(i, i + 2);
      if (!PAIR_STOP.has(pair)) out.push(pair);
    }
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

/**
 * An index per visitor language: every entry in English and Chinese (with the extra terms), and
 * in the visitor's language when it is another. One index of all ten would let a word of one
 * language find an entry through a look-alike of another (English "arrive" in a French answer).
 */
interface Index {
  docs: readonly Doc[];
  avgLength: number;
  df: Map<string, number>;
}

const indexes = new Map<Locale, Index>();

function indexFor(locale: Locale): Index {
  let index = indexes.get(locale);
  if (index) return index;
  const langs: Locale[] = locale === 'en' || locale === 'zh-CN' ? ['en', 'zh-CN'] : ['en', 'zh-CN', locale];
  const text = (r: Record<Locale, string>) => langs.map((l) => r[l]).join(' ');
  const both = (r: { en: string; 'zh-CN': string }) => `${r.en} ${r['zh-CN']}`;
  // Titles and extra terms count twice: they say what an entry is about.
  const docs: Doc[] = [
    ...FAQ.map((entry): Doc => ({
      ...doc(`faq:${entry.topic}`, [
        [text(entry.title), 2],
        [both(entry.terms), 2, true],
        [text(entry.answer), 1],
      ]),
      kind: 'faq',
      entry,
    })),
    ...PRODUCTS.map((product): Doc => ({
      ...doc(`product:${product.id}`, [
        [text(product.title), 2],
        [both(product.terms), 2, true],
        [text(product.description), 1],
      ]),
      kind: 'product',
      product,
    })),
  ];
  const df = new Map<string, number>();
  for (const d of docs) for (const term of d.terms.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  index = { docs, avgLength: docs.reduce((sum, d) => sum + d.length, 0) / docs.length, df };
  indexes.set(locale, index);
  return index;
}

const K1 = 1.2;
const B = 0.75;
/** Below this score an entry is not about the question. */
const MIN_SCORE = 1.2;
/** A second entry joins the answer when it scores at least this share of the best. */
const SECOND_SHARE = 0.6;
/** …and a product, after a help entry, at least this share. */
const PRODUCT_SHARE = 0.7;

/**
 * Okapi BM25 of every entry against the question, asked by a visitor whose page is in `locale`,
 * best first; entries that share no term are left out. The terms of the entry `explained` are
 * left out of the question: what they ask is answered already.
 */
export function search(question: string, locale: Locale = 'en', explained?: string): { id: string; score: number }[] {
  const { docs, avgLength, df: dfs } = indexFor(locale);
  const known = explained === undefined ? undefined : docs.find((d) => d.id === explained)?.terms;
  const query = [...new Set(tokenize(question))].filter((term) => !known?.has(term));
  const scored: { id: string; score: number }[] = [];
  for (const d of docs) {
    let score = 0;
    for (const term of query) {
      const tf = d.terms.get(term);
      if (!tf) continue;
      const df = dfs.get(term)!;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / avgLength));
    }
    if (score > 0) scored.push({ id: d.id, score });
  }
  return scored.sort((a, b) => b.score - a.score);
}

interface AnswerPhrases {
  /** An order found: its items, total and where it is, all in the visitor's language. */
  order: (n: string, items: string, total: string, status: string) => string;
  orderSource: (n: string) => string;
  orderMissing: (n: string) => string;
  product: (title: string, price: string, description: string) => string;
  hello: string;
  thanks: string;
  nothing: string;
}

const T: Record<Locale, AnswerPhrases> = {
  en: {
    order: (n, items, total, status) => `Order #${n} (${items}, ${total}): ${status}. The tracking link below follows the parcel.`,
    orderSource: (n) => `Tracking for order #${n}`,
    orderMissing: (n) =>
      `I can't find order #${n}. Please check the number in your confirmation email; if it still doesn't show up, a person from our team can look into it.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'Hi! I am the shop’s AI assistant. Ask me about shipping, returns, sizes, payment, our products or your order.',
    thanks: "You're welcome! Anything else I can look up for you?",
    nothing:
      "I couldn't find anything about that in our help pages or our catalogue, and I'd rather not guess. A person from our team can help: tap “Talk to a human”.",
  },
  'zh-CN': {
    order: (n, items, total, status) => `订单 #${n}（${items}，${total}）：${status}。可通过下方的物流链接查看包裹。`,
    orderSource: (n) => `订单 #${n} 物流`,
    orderMissing: (n) => `没有找到订单 #${n}。请核对确认邮件中的订单号；如果仍然找不到，我们的客服可以帮您查询。`,
    product: (title, price, description) => `${title} — ${price}。${description}`,
    hello: '您好！我是本店的 AI 助手。可以问我配送、退货、尺码、支付、商品或您的订单。',
    thanks: '不客气！还有什么需要我帮您查的吗？',
    nothing: '我在帮助页面和商品目录中没有找到相关内容，不想随便猜测。我们的客服可以帮您：请点击「转人工」。',
  },
  ar: {
    order: (n, items, total, status) => `الطلب رقم ${n} (${items}، ${total}): ${status}. يتيح لك رابط التتبّع أدناه متابعة الطرد.`,
    orderSource: (n) => `تتبّع الطلب رقم ${n}`,
    orderMissing: (n) =>
      `لم أجد الطلب رقم ${n}. يُرجى التحقق من الرقم في رسالة التأكيد التي وصلتك بالبريد الإلكتروني؛ وإن لم يظهر بعد ذلك، فبإمكان أحد أعضاء فريقنا البحث في الأمر.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'مرحبًا! أنا المساعد الذكي للمتجر. اسألني عن الشحن أو الإرجاع أو المقاسات أو الدفع أو منتجاتنا أو طلبك.',
    thanks: 'على الرحب والسعة! هل من شيء آخر يمكنني البحث عنه لك؟',
    nothing: 'لم أجد شيئًا عن ذلك في صفحات المساعدة أو في كتالوج منتجاتنا، ولا أريد أن أخمّن. يمكن لأحد أعضاء فريقنا مساعدتك: اضغط «التحدث إلى موظف».',
  },
  es: {
    order: (n, items, total, status) => `Pedido n.º ${n} (${items}, ${total}): ${status}. Con el enlace de seguimiento de abajo puedes seguir el paquete.`,
    orderSource: (n) => `Seguimiento del pedido n.º ${n}`,
    orderMissing: (n) =>
      `No encuentro el pedido n.º ${n}. Comprueba el número en tu correo de confirmación; si aun así no aparece, alguien de nuestro equipo puede revisarlo.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: '¡Hola! Soy el asistente de IA de la tienda. Pregúntame por envíos, devoluciones, tallas, pagos, nuestros productos o tu pedido.',
    thanks: '¡De nada! ¿Quieres que busque algo más?',
    nothing:
      'No he encontrado nada sobre eso en nuestras páginas de ayuda ni en el catálogo, y prefiero no adivinar. Alguien de nuestro equipo puede ayudarte: pulsa «Hablar con una persona».',
  },
  fr: {
    order: (n, items, total, status) => `Commande n° ${n} (${items}, ${total}) : ${status}. Le lien de suivi ci-dessous permet de suivre le colis.`,
    orderSource: (n) => `Suivi de la commande n° ${n}`,
    orderMissing: (n) =>
      `Je ne trouve pas la commande n° ${n}. Vérifiez le numéro dans votre e-mail de confirmation ; s’il reste introuvable, un membre de notre équipe peut s’en occuper.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'Bonjour ! Je suis l’assistant IA de la boutique. Posez-moi vos questions sur la livraison, les retours, les tailles, le paiement, nos produits ou votre commande.',
    thanks: 'Avec plaisir ! Puis-je chercher autre chose pour vous ?',
    nothing:
      'Je n’ai rien trouvé à ce sujet dans nos pages d’aide ni dans notre catalogue, et je préfère ne pas deviner. Un membre de notre équipe peut vous aider : touchez « Parler à un conseiller ».',
  },
  de: {
    order: (n, items, total, status) => `Bestellung Nr. ${n} (${items}, ${total}): ${status}. Über den Link unten können Sie das Paket verfolgen.`,
    orderSource: (n) => `Sendungsverfolgung für Bestellung Nr. ${n}`,
    orderMissing: (n) =>
      `Ich finde keine Bestellung Nr. ${n}. Bitte prüfen Sie die Nummer in Ihrer Bestätigungs-E-Mail; wenn sie dann immer noch nicht auftaucht, kann sich jemand aus unserem Team darum kümmern.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'Hallo! Ich bin der KI-Assistent des Shops. Fragen Sie mich zu Versand, Rücksendungen, Größen, Zahlung, unseren Produkten oder Ihrer Bestellung.',
    thanks: 'Gern geschehen! Kann ich noch etwas für Sie nachsehen?',
    nothing:
      'Dazu habe ich in unseren Hilfeseiten und im Katalog nichts gefunden, und ich möchte nicht raten. Jemand aus unserem Team kann Ihnen helfen: Tippen Sie auf „Mit einem Menschen sprechen“.',
  },
  pt: {
    order: (n, items, total, status) => `Pedido nº ${n} (${items}, ${total}): ${status}. Use o link de rastreamento abaixo para acompanhar o pacote.`,
    orderSource: (n) => `Rastreamento do pedido nº ${n}`,
    orderMissing: (n) =>
      `Não encontrei o pedido nº ${n}. Confira o número no e-mail de confirmação; se mesmo assim ele não aparecer, alguém da nossa equipe pode verificar.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'Olá! Sou o assistente de IA da loja. Pergunte sobre entrega, devoluções, tamanhos, pagamento, nossos produtos ou seu pedido.',
    thanks: 'De nada! Quer que eu procure mais alguma coisa?',
    nothing:
      'Não encontrei nada sobre isso nas nossas páginas de ajuda nem no catálogo, e prefiro não adivinhar. Alguém da nossa equipe pode ajudar: toque em "Falar com um atendente".',
  },
  ja: {
    order: (n, items, total, status) => `ご注文 #${n}（${items}、${total}）：${status}。下の追跡リンクから配送状況を確認できます。`,
    orderSource: (n) => `ご注文 #${n} の配送状況`,
    orderMissing: (n) => `ご注文 #${n} が見つかりません。確認メールの注文番号をご確認ください。それでも見つからない場合は、スタッフがお調べします。`,
    product: (title, price, description) => `${title} — ${price}。${description}`,
    hello: 'こんにちは！当店の AI アシスタントです。配送、返品、サイズ、お支払い、商品、ご注文についてお気軽にお尋ねください。',
    thanks: 'どういたしまして！ほかにお調べすることはありますか？',
    nothing:
      'ヘルプページや商品カタログに該当する情報が見つかりませんでした。推測でお答えするのは控えます。スタッフがお手伝いしますので、「オペレーターと話す」をタップしてください。',
  },
  ko: {
    order: (n, items, total, status) => `주문 #${n} (${items}, ${total}): ${status}. 아래 배송 조회 링크에서 택배를 추적할 수 있습니다.`,
    orderSource: (n) => `주문 #${n} 배송 조회`,
    orderMissing: (n) =>
      `주문 번호 ${n}에 해당하는 주문을 찾을 수 없습니다. 확인 이메일의 번호를 확인해 주세요. 그래도 찾을 수 없다면 저희 팀원이 확인해 드릴 수 있습니다.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: '안녕하세요! 이 상점의 AI 도우미입니다. 배송, 반품, 사이즈, 결제, 상품, 주문에 대해 물어보세요.',
    thanks: '천만에요! 더 찾아 드릴 것이 있을까요?',
    nothing: '도움말 페이지와 상품 카탈로그에서 관련 내용을 찾지 못했습니다. 추측으로 답하지 않을게요. 저희 팀원이 도와드릴 수 있으니 "상담원 연결"을 눌러 주세요.',
  },
  ru: {
    order: (n, items, total, status) => `Заказ № ${n} (${items}, ${total}): ${status}. Отследить посылку можно по ссылке ниже.`,
    orderSource: (n) => `Отслеживание заказа № ${n}`,
    orderMissing: (n) =>
      `Не могу найти заказ № ${n}. Проверьте номер в письме с подтверждением; если заказ так и не найдётся, наш сотрудник поможет разобраться.`,
    product: (title, price, description) => `${title} — ${price}. ${description}`,
    hello: 'Здравствуйте! Я ИИ-помощник магазина. Спрашивайте о доставке, возврате, размерах, оплате, наших товарах или вашем заказе.',
    thanks: 'Пожалуйста! Могу ещё что-нибудь для вас найти?',
    nothing: 'Я не нашёл ничего об этом на страницах помощи и в каталоге и не хочу гадать. Вам поможет наш сотрудник: нажмите «Связаться с оператором».',
  },
};

const ORDER_WORDS = /\b(order|track(ing)?|parcel|package)\b|订单|物流|包裹|单号|pedido|commande|colis|bestellung|paket|encomenda|注文|주문|заказ|посылк|طلب|طرد/i;
const GREETING = /^\s*(hi|hello|hey|good (morning|afternoon|evening)|hola|buenos d[ií]as|bonjour|salut|hallo|guten tag|ol[áa]|bom dia|привет|здравствуйте)(?![\p{L}])|^\s*(你好|您好|嗨|こんにちは|안녕\S*|مرحب\S*|السلام عليكم|أهلا|اهلا)/iu;
const THANKS = /\b(thanks?|thank you|thx|gracias|merci|danke|obrigad[oa])\b|谢谢|多谢|ありがとう|감사|고마워|спасибо|شكر/i;

/**
 * Answer a visitor's question from the shop's own data, in `locale`. `shopUrl` is the base
 * of the help and product pages the sources link to; an order's day of arrival is counted from `now`.
 */
export function answerQuestion(question: string, locale: Locale, shopUrl: string, now: number = Date.now()): AiAnswer {
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
    add(`order:${order.number}`, t.order(order.number, orderItems(order, locale), formatMoney(orderTotal(order), locale), orderStatus(order, locale, now)), { title: t.orderSource(order.number), url: order.trackingUrl });
    answered.push('order_status');
  } else if (numbers[0] && ORDER_WORDS.test(question)) {
    const help = faqEntry('order_status');
    add(`order:${numbers[0]}`, t.orderMissing(numbers[0]), { title: help.title[locale], url: shopUrl + help.page });
    answered.push('order_status');
    return finish();
  }

  // A greeting or thanks around a question is not what it asks about.
  const asked = question.replace(GREETING, ' ').replace(THANKS, ' ');
  const hits = search(asked, locale);
  // With an order found, its status answers the words of the order-status entry ("Bestellung
  // 1002"): another entry joins only when the other words ask about it.
  const beyondOrder = order ? new Map(search(asked, locale, 'faq:order_status').map((h) => [h.id, h.score])) : undefined;
  const best = hits[0]?.score ?? 0;
  for (const hit of hits) {
    if (hit.score < MIN_SCORE || hit.score < best * SECOND_SHARE || basis.length >= 2) break;
    if (beyondOrder && (beyondOrder.get(hit.id) ?? 0) < MIN_SCORE) continue;
    const d = indexFor(locale).docs.find((x) => x.id === hit.id)!;
    // A product named in passing ("can I return my shoes?") is not what a help answer is about.
    if (parts.length && d.kind === 'product' && hit.score < best * PRODUCT_SHARE) continue;
    if (d.kind === 'faq') {
      // Asked about an order we found: its status says more than how tracking works.
      if (order && d.entry.topic === 'order_status') continue;
      add(d.id, d.entry.answer[locale], { title: d.entry.title[locale], url: shopUrl + d.entry.page });
      answered.push(d.entry.topic);
    } else {
      add(d.id, t.product(d.product.title[locale], productPrice(d.product, locale), d.product.description[locale]), { title: d.product.title[locale], url: shopUrl + d.product.page });
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

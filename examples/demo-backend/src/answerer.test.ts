import { readFileSync } from 'node:fs';
import { HANDOFF_VALUE } from '@parley/protocol';
import { describe, expect, test } from 'vitest';
import { answerQuestion, search } from './answerer.js';
import { FAQ } from './faq.js';
import { paceWords, wordsOf } from './words.js';

const SHOP = 'http://shop.test';
/** Noon on 10 June 2027: a shipped order arriving in two days arrives on 12 June. */
const NOW = new Date(2027, 5, 10, 12).getTime();
/** The text with the no-break spaces that number formats put in as plain ones. */
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');
const HELP_PAGE = readFileSync(new URL('../../shop/public/help.html', import.meta.url), 'utf8');

async function collect(words: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const w of words) out.push(w);
  return out;
}

describe('retrieval', () => {
  test.each([
    ['How long does shipping take?', 'faq:shipping'],
    ['When will my parcel arrive?', 'faq:shipping'],
    ['I want a refund', 'faq:returns'],
    ['Can I send my shoes back?', 'faq:returns'],
    ['Do the shoes run small?', 'faq:sizes'],
    ['Can I pay with PayPal?', 'faq:payment'],
    ['My sole came loose after a week', 'faq:warranty'],
    ['Is the jacket waterproof?', 'product:ridge-shell-jacket'],
    ['Do you have trail running shoes?', 'product:trail-runner-2'],
    ['请问多久发货？', 'faq:shipping'],
    ['可以退货吗', 'faq:returns'],
    ['有跑鞋吗', 'product:trail-runner-2'],
    ['夹克防水吗', 'product:ridge-shell-jacket'],
  ])('%s → %s', (question, id) => {
    expect(search(question)[0]?.id).toBe(id);
    expect(answerQuestion(question, 'en', SHOP).basis[0]).toBe(id);
  });

  test('a question on two topics gets both entries, best first', () => {
    const answer = answerQuestion('How much is shipping and do you take Visa?', 'en', SHOP);
    expect([...answer.basis].sort()).toEqual(['faq:payment', 'faq:shipping']);
    expect(answer.text).toContain('Shipping is free over €50');
    expect(answer.text).toContain('PayPal');
    expect(answer.sources.map((s) => s.url).sort()).toEqual([`${SHOP}/help.html#payment`, `${SHOP}/help.html#shipping`]);
  });

  test('a product named in passing does not join a help answer', () => {
    expect(answerQuestion('Can I return my shoes?', 'en', SHOP).basis).toEqual(['faq:returns']);
  });

  test('"what do you sell" lists the products', () => {
    expect([...answerQuestion('What do you sell?', 'en', SHOP).basis].sort()).toEqual(['product:ridge-shell-jacket', 'product:trail-runner-2']);
  });
});

describe('answers', () => {
  test('the answer is the matched entry, in the visitor\'s language, linked to its help page', () => {
    const en = answerQuestion('How long does shipping take?', 'en', SHOP);
    expect(en.text).toBe(FAQ.find((e) => e.topic === 'shipping')!.answer.en);
    expect(en.sources).toEqual([{ title: 'Shipping and delivery times', url: `${SHOP}/help.html#shipping` }]);
    const zh = answerQuestion('请问多久发货？', 'zh-CN', SHOP);
    expect(zh.text).toContain('当天发货');
    expect(zh.sources).toEqual([{ title: '配送与送达时间', url: `${SHOP}/help.html#shipping` }]);
    expect(zh.quickReplies.map((r) => r.label)).toContain('转人工');
  });

  test('a product answer carries its price and links its page', () => {
    const answer = answerQuestion('Is the jacket waterproof?', 'en', SHOP);
    expect(answer.text).toMatch(/^Ridge Shell Jacket — €189\.00\. A waterproof/);
    expect(answer.sources).toEqual([{ title: 'Ridge Shell Jacket', url: `${SHOP}/?product=ridge-shell-jacket` }]);
  });

  test('an order number is looked up: status, items, total and the tracking link', () => {
    const answer = answerQuestion('Where is order 1001?', 'en', SHOP, NOW);
    expect(answer.basis).toEqual(['order:1001']);
    expect(answer.text).toBe('Order #1001 (Trail Runner 2 × 1, €129.00): Shipped — arriving June 12. The tracking link below follows the parcel.');
    expect(answer.sources).toEqual([{ title: 'Tracking for order #1001', url: 'https://tracking.example/parcel/PRL1001' }]);
    expect(answerQuestion('订单 1002 到哪了', 'zh-CN', SHOP, NOW).text).toBe(
      '订单 #1002（Ridge 防风防水夹克 × 1和Trail Runner 2 越野跑鞋 × 1，€318.00）：正在打包 — 今天发货。可通过下方的物流链接查看包裹。',
    );
  });

  test('an order is told in the visitor\'s language, its total and day of arrival written their way', () => {
    const ar = answerQuestion('1001', 'ar', SHOP, NOW);
    expect(plain(ar.text)).toBe('الطلب رقم 1001 (حذاء الجري Trail Runner 2 × 1، \u200f129.00 €): تم الشحن — موعد الوصول المتوقع 12 يونيو. يتيح لك رابط التتبّع أدناه متابعة الطرد.');
    expect(ar.sources[0]!.title).toBe('تتبّع الطلب رقم 1001');
    expect(plain(answerQuestion('Bestellung 1002', 'de', SHOP, NOW).text)).toBe(
      'Bestellung Nr. 1002 (Hardshell-Jacke Ridge × 1 und Trailrunning-Schuh Trail Runner 2 × 1, 318,00 €): Wird verpackt — Versand heute. Über den Link unten können Sie das Paket verfolgen.',
    );
    expect(answerQuestion('заказ 1001', 'ru', SHOP, NOW).text).toContain('доставка ожидается 12 июня');
    expect(answerQuestion('注文 1001', 'ja', SHOP, NOW).text).toContain('6月12日にお届け予定');
  });

  test.each([
    ['es', '¿Cuánto tarda el envío?', 'faq:shipping'],
    ['es', '¿Puedo pagar con PayPal?', 'faq:payment'],
    ['es', '¿La chaqueta es impermeable?', 'product:ridge-shell-jacket'],
    ['fr', 'Combien de temps prend la livraison ?', 'faq:shipping'],
    ['fr', 'Quelle taille choisir ?', 'faq:sizes'],
    ['de', 'Wie lange dauert der Versand?', 'faq:shipping'],
    ['de', 'Die Sohle hat sich gelöst', 'faq:warranty'],
    ['pt', 'Posso devolver os sapatos?', 'faq:returns'],
    ['ja', '配送は何日かかりますか？', 'faq:shipping'],
    ['ja', '返品できますか？', 'faq:returns'],
    ['ko', '반품할 수 있나요?', 'faq:returns'],
    ['ru', 'Сколько идет доставка?', 'faq:shipping'],
    ['ru', 'Куртка непромокаемая?', 'product:ridge-shell-jacket'],
    ['ar', 'كم يستغرق الشحن؟', 'faq:shipping'],
    ['ar', 'هل يمكنني إرجاع الحذاء؟', 'faq:returns'],
  ] as const)('asked in %s: %s → %s, answered in that language', (locale, question, id) => {
    const answer = answerQuestion(question, locale, SHOP);
    expect(answer.basis[0]).toBe(id);
    if (id.startsWith('faq:')) expect(answer.text.startsWith(FAQ.find((e) => `faq:${e.topic}` === id)!.answer[locale])).toBe(true);
  });

  test.each([
    ['es', '¿Qué tiempo hace en París?'],
    ['fr', 'Quel temps fait-il à Paris ?'],
    ['de', 'Wie ist das Wetter in Paris?'],
    ['pt', 'Como está o tempo em Paris?'],
    ['ja', 'パリの天気はどうですか？'],
    ['ko', '파리 날씨는 어때요?'],
    ['ru', 'Какая погода в Париже?'],
    ['ar', 'كيف الطقس في باريس؟'],
  ] as const)('nothing relevant in %s (%s): nothing cited, a human offered first', (locale, question) => {
    const answer = answerQuestion(question, locale, SHOP);
    expect(answer.basis).toEqual([]);
    expect(answer.quickReplies[0]!.value).toBe(HANDOFF_VALUE);
  });

  test('greetings and thanks in the visitor\'s language get the short answer, and an order word alone adds no help entry', () => {
    for (const [locale, hello, thanks] of [
      ['es', 'hola', 'gracias'],
      ['de', 'Hallo', 'danke'],
      ['ja', 'こんにちは', 'ありがとう'],
      ['ko', '안녕하세요', '감사합니다'],
      ['ru', 'привет', 'спасибо'],
      ['ar', 'مرحبا', 'شكرا'],
    ] as const) {
      const nothing = answerQuestion('zzzz qqqq', locale, SHOP).text;
      const [hi, ty] = [answerQuestion(hello, locale, SHOP), answerQuestion(thanks, locale, SHOP)];
      expect([hi.basis, ty.basis]).toEqual([[], []]);
      expect(new Set([hi.text, ty.text, nothing]).size).toBe(3);
    }
    expect(answerQuestion('Bestellung 1002', 'de', SHOP, NOW).basis).toEqual(['order:1002']);
    expect(answerQuestion('Where is order 1001? Can I pay with PayPal?', 'en', SHOP, NOW).basis).toEqual(['order:1001', 'faq:payment']);
  });

  test('products, greetings, thanks and "nothing found" are in the visitor\'s language', () => {
    const jacket = answerQuestion('Is the jacket waterproof?', 'fr', SHOP);
    expect(jacket.text).toMatch(/^Veste imperméable Ridge — 189,00\s€\. Une veste imperméable/);
    expect(jacket.sources).toEqual([{ title: 'Veste imperméable Ridge', url: `${SHOP}/?product=ridge-shell-jacket` }]);
    expect(answerQuestion('Hello!', 'es', SHOP).text).toMatch(/asistente de IA/);
    expect(answerQuestion('thanks', 'ko', SHOP).text).toMatch(/천만에요/);
    const nothing = answerQuestion('What is the weather in Paris?', 'ar', SHOP);
    expect(nothing.text).toMatch(/لم أجد شيئًا/);
    expect(nothing.quickReplies[0]).toEqual({ label: 'التحدث إلى موظف', value: HANDOFF_VALUE });
    const help = answerQuestion('How long does shipping take?', 'pt', SHOP);
    expect(help.text).toBe(FAQ.find((e) => e.topic === 'shipping')!.answer.pt);
    expect(help.sources).toEqual([{ title: 'Envio e prazos de entrega', url: `${SHOP}/help.html#shipping` }]);
  });

  test('an unknown order number is said to be unknown, with a human offered', () => {
    const answer = answerQuestion('Where is order 4242?', 'en', SHOP);
    expect(answer.text).toMatch(/can't find order #4242/);
    expect(answer.quickReplies.map((r) => r.value)).toContain(HANDOFF_VALUE);
  });

  test.each([['Can a llama wear these?'], ['What is the weather in Paris?'], ['今天天气怎么样']])(
    'nothing relevant (%s): says so, cites nothing, and offers a human first',
    (question) => {
      const answer = answerQuestion(question, 'en', SHOP);
      expect(answer.basis).toEqual([]);
      expect(answer.sources).toEqual([]);
      expect(answer.text).toMatch(/couldn't find anything about that/);
      expect(answer.quickReplies[0]).toEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
    },
  );

  test('greetings and thanks get a short answer, not a fallback', () => {
    expect(answerQuestion('Hello!', 'en', SHOP).text).toMatch(/AI assistant/);
    expect(answerQuestion('thanks', 'en', SHOP).text).toMatch(/welcome/);
    expect(answerQuestion('你好', 'zh-CN', SHOP).text).toMatch(/AI 助手/);
  });

  test('every answer offers "Talk to a human" and leaves out the topic it answered', () => {
    for (const q of ['How long does shipping take?', 'Is the jacket waterproof?', 'Where is order 1001?', 'hello', 'llamas?']) {
      const values = answerQuestion(q, 'en', SHOP).quickReplies.map((r) => r.value);
      expect(values).toContain(HANDOFF_VALUE);
    }
    expect(answerQuestion('How long does shipping take?', 'en', SHOP).quickReplies.map((r) => r.value)).not.toContain('shipping');
  });

  test('every source is an http(s) link; help links point at entries the help page has', () => {
    const questions = ['shipping', 'returns', 'sizes', 'order 1001', 'order 99999', 'paypal', 'warranty', 'jacket', 'shoes', '请问多久发货', '有跑鞋吗'];
    for (const q of questions) {
      for (const source of answerQuestion(q, 'en', SHOP).sources) {
        expect(new URL(source.url).protocol).toMatch(/^https?:$/);
        expect(source.title.length).toBeGreaterThan(0);
        const anchor = /\/help\.html#([\w-]+)$/.exec(source.url)?.[1];
        if (anchor) expect(HELP_PAGE).toContain(`id="${anchor}"`);
      }
    }
  });

  test('the help page says what the answerer says', () => {
    for (const entry of FAQ) {
      const section = new RegExp(`<section id="${entry.page.split('#')[1]}">([\\s\\S]*?)</section>`).exec(HELP_PAGE)?.[1];
      expect(section, entry.topic).toContain(entry.title.en);
      if (entry.topic !== 'order_status') expect(section).toContain(entry.answer.en);
    }
  });
});

describe('streamed words', () => {
  test.each([
    ['Orders placed before 3 pm ship the same day.'],
    ['  Leading space, two  spaces,\nand a new line. '],
    ['下午 3 点前下单当天发货。欧盟境内 2–4 个工作日送达。'],
    ['Ridge Shell Jacket — €189.00. A waterproof shell.'],
    ['الطلبات التي تصل قبل الساعة 3 عصرًا تُشحن في اليوم نفسه.'],
    ['午後 3 時までのご注文は当日発送します。'],
    ['오후 3시 이전 주문은 당일 발송됩니다.'],
    ['Заказы, оформленные до 15:00, отправляем в тот же день.'],
  ])('the words of %j join to the text', (text) => {
    const words = wordsOf(text);
    expect(words.join('')).toBe(text);
    expect(words.length).toBeGreaterThan(3);
  });

  test('English is cut into words with their trailing spaces', () => {
    expect(wordsOf('Free returns within 30 days.')).toEqual(['Free ', 'returns ', 'within ', '30 ', 'days.']);
  });

  test('the paced stream yields every word, in order, joining to the answer', async () => {
    const answer = answerQuestion('How long does shipping take?', 'en', SHOP);
    const words = await collect(paceWords(answer.text, 0));
    // One word at a time: none holds a space before more text.
    for (const w of words) expect(w).toMatch(/^\S+\s*$/);
    expect(words.length).toBeGreaterThanOrEqual(answer.text.split(' ').length);
    expect(words.join('')).toBe(answer.text);
  });

  test('the stream waits between words', async () => {
    const started = Date.now();
    const words = await collect(paceWords('one two three four', 30));
    expect(words).toEqual(['one ', 'two ', 'three ', 'four']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
  });

  test('aborting the signal ends the stream with its reason, without the rest', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const w of paceWords('one two three four five six', 20, controller.signal)) {
        seen.push(w);
        if (seen.length === 2) controller.abort(new Error('An agent took over.'));
      }
    })();
    await expect(reading).rejects.toThrow('An agent took over.');
    expect(seen).toEqual(['one ', 'two ']);
  });
});

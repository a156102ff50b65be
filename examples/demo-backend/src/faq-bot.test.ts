import { HANDOFF_VALUE, type OutgoingMessage } from '@parley/backend';
import { describe, expect, test } from 'vitest';
import { AI_BROKE_OFF, HANDOFF_TEXT, RATING_TEXT, aiBotOf, answerPostback, answerText, contactThanks } from './faq-bot.js';
import { faqEntry, type FaqTopic } from './faq.js';
import { LOCALES, type Locale } from './locale.js';

const SHOP = 'http://shop.test';
/** Noon on 10 June 2027: order 1001, shipped and two days away, arrives on 12 June. */
const NOW = new Date(2027, 5, 10, 12).getTime();
/** Names that stay as they are in every language: the brand, the product lines, size codes. */
const NAMES = /Parley|Trail Runner 2|Ridge|\bAI\b|S–XXL|\bEU\b|ana@example\.com/g;

/** Everything a visitor reads of one message: its text, buttons, card and the name it is signed with. */
function shown(m: OutgoingMessage): string[] {
  const b = m.body;
  const out = [m.from?.name ?? ''];
  if (b.type === 'text') out.push(b.text);
  if (b.type === 'quick_replies') out.push(b.text, ...b.replies.map((r) => r.label));
  if (b.type === 'card') out.push(b.title, b.subtitle ?? '', b.price ?? '', ...(b.actions ?? []).map((a) => a.label));
  return out.filter(Boolean);
}

/** Every string the demo backend shows a visitor of `locale` on a walk through all it can say. */
function everything(locale: Locale): string[] {
  const messages = [
    ...(['shipping', 'returns', 'sizes', 'order_status', 'nonsense'] as const).flatMap((v) => answerPostback(v, locale).messages),
    ...['order 1001', 'order 1002', 'order 4242', 'shoes and a jacket', 'hello', 'thanks', 'blah'].flatMap((q) => answerText(q, locale, SHOP, NOW).messages),
    contactThanks('ana@example.com', locale),
  ];
  const handoff = HANDOFF_TEXT[locale];
  return [
    ...messages.flatMap(shown),
    handoff.queued(1),
    handoff.queued(3),
    handoff.offline,
    RATING_TEXT[locale],
    AI_BROKE_OFF[locale],
    aiBotOf(locale).name!,
  ];
}

const english = everything('en');

describe('the bot in every language it speaks', () => {
  test.each(LOCALES.filter((l) => l !== 'en'))('%s: nothing the bot shows is English', (locale) => {
    const said = everything(locale);
    expect(said.length).toBe(english.length);
    // No English phrase (a price or an order number alone aside) is left in what the bot says.
    const phrases = english.filter((e) => /\p{L}{2}/u.test(e.replace(NAMES, '')));
    expect(phrases.filter((e) => said.some((s) => s.includes(e)))).toEqual([]);
    // Nor any English word: what remains once the names are gone is not in Latin letters (the
    // languages written in them aside).
    if (!['es', 'fr', 'de', 'pt'].includes(locale)) {
      expect(said.filter((s) => /\p{Script=Latin}{2,}/u.test(s.replace(NAMES, '')))).toEqual([]);
    }
  });

  test('zh-CN and ar: every line is written in Chinese or in Arabic', () => {
    for (const s of everything('zh-CN')) if (!/^[\d\s€.,‏]+$/.test(s)) expect(s).toMatch(/[\u4e00-\u9fff]/);
    for (const s of everything('ar')) if (!/^[\d\s€.,‏]+$/.test(s)) expect(s).toMatch(/[\u0600-\u06ff]/);
  });

  test('the order card: its title, status with the day of arrival, total and buttons in the visitor\'s language', () => {
    const card = (locale: Locale, number = '1001') => answerText(`order ${number}`, locale, SHOP, NOW).messages.find((m) => m.body.type === 'card')!;
    expect(card('en')).toMatchObject({
      from: { role: 'bot', name: 'Parley Bot' },
      body: { kind: 'order', title: 'Order #1001', subtitle: 'Shipped — arriving June 12', price: '€129.00' },
    });
    expect(card('zh-CN')).toMatchObject({
      from: { role: 'bot', name: 'Parley 机器人' },
      body: { kind: 'order', title: '订单 #1001', subtitle: '已发货 — 预计 6月12日送达', price: '€129.00' },
    });
    const ar = card('ar');
    expect(ar).toMatchObject({
      from: { role: 'bot', name: 'روبوت Parley' },
      body: { kind: 'order', title: 'الطلب رقم 1001', subtitle: 'تم الشحن — موعد الوصول المتوقع 12 يونيو' },
    });
    expect(ar.body.type === 'card' && ar.body.actions!.map((a) => a.label)).toEqual(['تتبّع الشحنة', 'إرجاع منتج', 'التحدث إلى موظف']);
    // Prices as each language writes them (a no-break space before the euro sign where it follows).
    const price = (locale: Locale, number?: string) => {
      const b = card(locale, number).body;
      return b.type === 'card' ? b.price!.replace(/[\u00a0\u202f]/g, ' ') : '';
    };
    expect(price('ar')).toBe('\u200f129.00 €');
    expect(['de', 'fr', 'es', 'ru'].map((l) => price(l as Locale, '1002'))).toEqual(['318,00 €', '318,00 €', '318,00 €', '318,00 €']);
    expect(price('pt', '1002')).toBe('€ 318,00');
    expect(card('de', '1002').body).toMatchObject({ title: 'Bestellung Nr. 1002', subtitle: 'Wird verpackt — Versand heute' });
    expect(card('ru').body).toMatchObject({ title: 'Заказ № 1001', subtitle: 'Отправлен — доставка ожидается 12 июня' });
    expect(card('ja').body).toMatchObject({ title: 'ご注文 #1001', subtitle: '発送済み — 6月12日にお届け予定' });
  });

  test('product cards: localised title, price, and buttons', () => {
    const cards = answerText('shoes', 'fr', SHOP, NOW).messages.filter((m) => m.body.type === 'card');
    expect(cards).toHaveLength(1);
    expect(cards[0]!.body).toMatchObject({ kind: 'product', title: 'Chaussures Trail Runner 2', url: `${SHOP}/` });
    const body = cards[0]!.body;
    expect(body.type === 'card' && [body.price!.replace(/\u202f|\u00a0/g, ' '), ...body.actions!.map((a) => a.label)]).toEqual([
      '129,00 €',
      'Voir le produit',
      'Guide des tailles',
    ]);
  });

  test('every answer in every language ends with a way to a human, labelled in that language', () => {
    const human: Record<Locale, string> = {
      en: 'Talk to a human',
      'zh-CN': '转人工',
      ar: 'التحدث إلى موظف',
      es: 'Hablar con una persona',
      fr: 'Parler à un conseiller',
      de: 'Mit einem Menschen sprechen',
      pt: 'Falar com um atendente',
      ja: 'オペレーターと話す',
      ko: '상담원 연결',
      ru: 'Связаться с оператором',
    };
    for (const locale of LOCALES) {
      const last = answerPostback('shipping', locale).messages.at(-1)!.body;
      expect(last.type === 'quick_replies' && last.replies.at(-1)).toEqual({ label: human[locale], value: HANDOFF_VALUE });
    }
  });
});

describe('the bot understands each language', () => {
  const topicAnswer = (topic: FaqTopic, locale: Locale) => faqEntry(topic).answer[locale];
  const firstText = (q: string, locale: Locale) => {
    const b = answerText(q, locale, SHOP, NOW).messages[0]?.body;
    return b && 'text' in b ? b.text : undefined;
  };

  test.each<[Locale, string]>([
    ['zh-CN', '我的订单 1001 到哪了'],
    ['ar', 'أين طلبي ١٠٠١؟'],
    ['es', '¿Dónde está mi pedido 1001?'],
    ['fr', 'Où en est ma commande n° 1001 ?'],
    ['de', 'Wo ist meine Bestellung 1001?'],
    ['pt', 'Cadê meu pedido 1001?'],
    ['ja', '注文番号は１００１です'],
    ['ko', '주문 번호 1001 조회해 주세요'],
    ['ru', 'Где мой заказ №1001?'],
  ])('%s: an order number in a sentence (%s) gets the order card', (locale, q) => {
    const card = answerText(q, locale, SHOP, NOW).messages.find((m) => m.body.type === 'card');
    expect(card?.body).toMatchObject({ kind: 'order', url: 'https://tracking.example/parcel/PRL1001' });
  });

  test.each<[Locale, string, FaqTopic]>([
    ['ar', 'كم تستغرق مدة الشحن؟', 'shipping'],
    ['es', '¿Cuánto tarda el envío?', 'shipping'],
    ['fr', 'Je voudrais un remboursement', 'returns'],
    ['de', 'Welche Größe soll ich nehmen?', 'sizes'],
    ['pt', 'Como funciona a devolução?', 'returns'],
    ['ja', '返品できますか', 'returns'],
    ['ko', '배송은 얼마나 걸리나요?', 'shipping'],
    ['ru', 'Какой размер выбрать?', 'sizes'],
    ['zh-CN', '可以退货吗', 'returns'],
  ])('%s: "%s" is answered with the %s help', (locale, q, topic) => {
    expect(firstText(q, locale)).toBe(topicAnswer(topic, locale));
  });

  test.each<[Locale, string]>([
    ['ar', 'أريد التحدث إلى موظف'],
    ['es', 'Quiero hablar con una persona'],
    ['fr', 'Je veux parler à un conseiller'],
    ['de', 'Kann ich mit einem Menschen sprechen?'],
    ['pt', 'Quero falar com um atendente'],
    ['ja', 'オペレーターにつないでください'],
    ['ko', '상담원 연결해 주세요'],
    ['ru', 'Позовите оператора'],
    ['zh-CN', '转人工'],
  ])('%s: "%s" asks for a human', (locale, q) => {
    expect(answerText(q, locale, SHOP, NOW)).toEqual({ messages: [], handoff: true });
  });

  test.each<[Locale, string, string]>([
    ['ar', 'هل لديكم أحذية للجري؟', 'trail-runner'],
    ['es', '¿Tenéis chaquetas impermeables?', 'trail-jacket'],
    ['fr', 'Vous avez des chaussures de trail ?', 'trail-runner'],
    ['de', 'Habt ihr Regenjacken?', 'trail-jacket'],
    ['pt', 'Vocês têm tênis de corrida?', 'trail-runner'],
    ['ja', 'ジャケットはありますか', 'trail-jacket'],
    ['ko', '신발 있어요?', 'trail-runner'],
    ['ru', 'Есть кроссовки?', 'trail-runner'],
  ])('%s: "%s" gets the product card', (locale, q, image) => {
    const cards = answerText(q, locale, SHOP, NOW).messages.filter((m) => m.body.type === 'card');
    expect(cards.map((m) => m.body.type === 'card' && m.body.imageUrl)).toEqual([`${SHOP}/img/${image}.svg`]);
  });

  test.each<[Locale, string, string]>([
    ['ar', 'مرحبا', 'شكرًا جزيلًا'],
    ['es', 'Hola', 'Gracias'],
    ['fr', 'Bonjour', 'Merci beaucoup'],
    ['de', 'Hallo', 'Danke'],
    ['pt', 'Olá', 'Obrigada!'],
    ['ja', 'こんにちは', 'ありがとうございます'],
    ['ko', '안녕하세요', '감사합니다'],
    ['ru', 'Привет', 'Спасибо'],
  ])('%s: a greeting and thanks get their answers, not the fallback', (locale, hello, thanks) => {
    const fallback = firstText('blah', locale);
    expect([firstText(hello, locale), firstText(thanks, locale)]).not.toContain(fallback);
    expect(firstText(hello, locale)).not.toBe(firstText(thanks, locale));
  });
});

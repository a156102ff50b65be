import { HANDOFF_VALUE, type OutgoingMessage, type Sender } from '@parley/backend';
import { findOrder, findProducts, orderStatus, orderTotal, productPrice, type Product } from './catalog.js';
import { faqEntry } from './faq.js';
import { LOCALES, asciiDigits, formatMoney, type Locale } from './locale.js';

/** A quick-reply button. */
export type Button = Extract<OutgoingMessage['body'], { type: 'quick_replies' }>['replies'][number];

/** What the bot wants to say, and whether the visitor asked for a human. */
export interface BotAnswer {
  messages: OutgoingMessage[];
  /** The visitor asked for a human: the caller starts the handoff and says so. */
  handoff?: boolean;
}

type MenuItem = 'shipping' | 'returns' | 'sizes' | 'order_status' | 'human';

/** Everything the demo backend says of its own, in one language (the help answers are in faq.ts, order states in catalog.ts). */
interface Phrases {
  /** The names the bot and the AI sign with; the widget puts its Bot or AI badge after them. */
  bot: string;
  ai: string;
  orderAsk: string;
  orderFound: (n: string) => string;
  orderMissing: (n: string) => string;
  /** An order card's title. */
  orderTitle: (n: string) => string;
  products: string;
  hello: string;
  thanks: string;
  fallback: string;
  more: string;
  view: string;
  sizeGuide: string;
  track: string;
  returnItem: string;
  menu: Record<MenuItem, string>;
  /** Said when the visitor joins the queue for a human, at `position` (1: next). */
  queued: (position: number) => string;
  offline: string;
  contactThanks: (email: string) => string;
  /** The rating request an agent's close sends. */
  rating: string;
  /** After an AI answer broke off. */
  aiBrokeOff: string;
}

/** Unicode isolates: an e-mail address in an Arabic sentence keeps its own direction. */
const isolate = (s: string) => `\u2068${s}\u2069`;

const T: Record<Locale, Phrases> = {
  en: {
    bot: 'Parley Bot',
    ai: 'Parley AI',
    orderAsk: 'Tell me your order number, like "order 1001", and I will look it up.',
    orderFound: (n) => `Here is order #${n}:`,
    orderMissing: (n) => `I can't find order #${n}. Please check the number in your confirmation email, or talk to a human.`,
    orderTitle: (n) => `Order #${n}`,
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
    queued: (position) =>
      position <= 1
        ? 'Connecting you to a human. You are next in line; an agent will be with you shortly.'
        : `Connecting you to a human. You are number ${position} in the queue; an agent will be with you shortly.`,
    offline: 'Our team is offline right now. Leave your email and a message in the form, and we will get back to you.',
    contactThanks: (email) => `Thanks! We will answer at ${email} within one business day.`,
    rating: 'How did we do? Please rate this conversation.',
    aiBrokeOff: 'Sorry, my answer broke off. Ask me again, or talk to a human.',
  },
  'zh-CN': {
    bot: 'Parley 机器人',
    ai: 'Parley AI 助手',
    orderAsk: '请告诉我您的订单号，例如「订单 1001」，我来帮您查询。',
    orderFound: (n) => `这是订单 #${n}：`,
    orderMissing: (n) => `没有找到订单 #${n}。请核对确认邮件中的订单号，或转人工客服。`,
    orderTitle: (n) => `订单 #${n}`,
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
    queued: (position) =>
      position <= 1 ? '正在为您转接人工客服，您是下一位，请稍候。' : `正在为您转接人工客服，您前面还有 ${position - 1} 位，请稍候。`,
    offline: '客服目前不在线。请在表单中留下您的邮箱和留言，我们会尽快回复您。',
    contactThanks: (email) => `谢谢！我们会在一个工作日内通过 ${email} 回复您。`,
    rating: '请为本次服务评分。',
    aiBrokeOff: '抱歉，我的回答中断了。请再问一次，或转人工客服。',
  },
  ar: {
    bot: 'روبوت Parley',
    ai: 'مساعد Parley الذكي',
    orderAsk: 'أخبرني برقم طلبك، مثل «الطلب 1001»، وسأبحث عنه.',
    orderFound: (n) => `إليك الطلب رقم ${n}:`,
    orderMissing: (n) => `لم أجد الطلب رقم ${n}. يُرجى التحقق من الرقم في رسالة التأكيد التي وصلتك بالبريد الإلكتروني، أو التحدث إلى موظف.`,
    orderTitle: (n) => `الطلب رقم ${n}`,
    products: 'إليك ما لدينا:',
    hello: 'مرحبًا! أنا روبوت Parley. كيف يمكنني مساعدتك؟',
    thanks: 'على الرحب والسعة! هل من شيء آخر؟',
    fallback: 'عذرًا، لم أفهم ذلك. اختر موضوعًا، أو تحدّث إلى موظف.',
    more: 'هل من شيء آخر؟',
    view: 'عرض المنتج',
    sizeGuide: 'دليل المقاسات',
    track: 'تتبّع الشحنة',
    returnItem: 'إرجاع منتج',
    menu: { shipping: 'مدة الشحن', returns: 'الإرجاع', sizes: 'المقاسات', order_status: 'حالة الطلب', human: 'التحدث إلى موظف' },
    queued: (position) =>
      position <= 1
        ? 'جارٍ تحويلك إلى موظف. أنت التالي في قائمة الانتظار، وسيكون أحد الموظفين معك قريبًا.'
        : `جارٍ تحويلك إلى موظف. ترتيبك في قائمة الانتظار: ${position}، وسيكون أحد الموظفين معك قريبًا.`,
    offline: 'فريقنا غير متصل الآن. اترك بريدك الإلكتروني ورسالة في النموذج، وسنعاود التواصل معك.',
    contactThanks: (email) => `شكرًا! سنرد عليك على ${isolate(email)} خلال يوم عمل واحد.`,
    rating: 'كيف كانت خدمتنا؟ يُرجى تقييم هذه المحادثة.',
    aiBrokeOff: 'عذرًا، انقطعت إجابتي. اسألني مرة أخرى، أو تحدّث إلى موظف.',
  },
  es: {
    bot: 'Bot de Parley',
    ai: 'IA de Parley',
    orderAsk: 'Dime tu número de pedido, por ejemplo «pedido 1001», y lo busco.',
    orderFound: (n) => `Este es el pedido n.º ${n}:`,
    orderMissing: (n) => `No encuentro el pedido n.º ${n}. Comprueba el número en tu correo de confirmación o habla con una persona.`,
    orderTitle: (n) => `Pedido n.º ${n}`,
    products: 'Esto es lo que tenemos:',
    hello: '¡Hola! Soy el bot de Parley. ¿En qué puedo ayudarte?',
    thanks: '¡De nada! ¿Algo más?',
    fallback: 'Lo siento, no te he entendido. Elige un tema o habla con una persona.',
    more: '¿Algo más?',
    view: 'Ver producto',
    sizeGuide: 'Guía de tallas',
    track: 'Seguir el paquete',
    returnItem: 'Devolver un artículo',
    menu: { shipping: 'Plazos de envío', returns: 'Devoluciones', sizes: 'Tallas', order_status: 'Estado del pedido', human: 'Hablar con una persona' },
    queued: (position) =>
      position <= 1
        ? 'Te estamos pasando con una persona. Tu turno es el siguiente; un agente te atenderá en breve.'
        : `Te estamos pasando con una persona. Tu posición en la cola: ${position}. Un agente te atenderá en breve.`,
    offline: 'Nuestro equipo no está disponible ahora mismo. Déjanos tu correo y un mensaje en el formulario y te responderemos.',
    contactThanks: (email) => `¡Gracias! Te responderemos en ${email} en un plazo de un día hábil.`,
    rating: '¿Qué tal lo hemos hecho? Valora esta conversación.',
    aiBrokeOff: 'Lo siento, mi respuesta se ha cortado. Vuelve a preguntarme o habla con una persona.',
  },
  fr: {
    bot: 'Bot Parley',
    ai: 'IA Parley',
    orderAsk: 'Indiquez-moi votre numéro de commande, par exemple « commande 1001 », et je la recherche.',
    orderFound: (n) => `Voici la commande n° ${n} :`,
    orderMissing: (n) => `Je ne trouve pas la commande n° ${n}. Vérifiez le numéro dans votre e-mail de confirmation, ou parlez à un conseiller.`,
    orderTitle: (n) => `Commande n° ${n}`,
    products: 'Voici ce que nous proposons :',
    hello: 'Bonjour ! Je suis le bot Parley. Comment puis-je vous aider ?',
    thanks: 'Avec plaisir ! Autre chose ?',
    fallback: 'Désolé, je n’ai pas compris. Choisissez un sujet, ou parlez à un conseiller.',
    more: 'Autre chose ?',
    view: 'Voir le produit',
    sizeGuide: 'Guide des tailles',
    track: 'Suivre le colis',
    returnItem: 'Retourner un article',
    menu: { shipping: 'Délais de livraison', returns: 'Retours', sizes: 'Tailles', order_status: 'Suivi de commande', human: 'Parler à un conseiller' },
    queued: (position) =>
      position <= 1
        ? 'Nous vous mettons en relation avec un conseiller. Vous êtes en tête de la file d’attente ; un conseiller vous répondra sous peu.'
        : `Nous vous mettons en relation avec un conseiller. Votre position dans la file d’attente : ${position}. Un conseiller vous répondra sous peu.`,
    offline: 'Notre équipe n’est pas disponible pour le moment. Laissez votre e-mail et un message dans le formulaire, nous vous répondrons.',
    contactThanks: (email) => `Merci ! Nous vous répondrons à ${email} sous un jour ouvré.`,
    rating: 'Comment s’est passé cet échange ? Merci d’évaluer cette conversation.',
    aiBrokeOff: 'Désolé, ma réponse a été interrompue. Reposez votre question, ou parlez à un conseiller.',
  },
  de: {
    bot: 'Parley-Bot',
    ai: 'Parley-KI',
    orderAsk: 'Nennen Sie mir Ihre Bestellnummer, zum Beispiel „Bestellung 1001“, und ich sehe nach.',
    orderFound: (n) => `Hier ist Bestellung Nr. ${n}:`,
    orderMissing: (n) => `Ich finde keine Bestellung Nr. ${n}. Bitte prüfen Sie die Nummer in Ihrer Bestätigungs-E-Mail oder sprechen Sie mit einem Menschen.`,
    orderTitle: (n) => `Bestellung Nr. ${n}`,
    products: 'Das haben wir im Angebot:',
    hello: 'Hallo! Ich bin der Parley-Bot. Wie kann ich Ihnen helfen?',
    thanks: 'Gern geschehen! Kann ich sonst noch etwas für Sie tun?',
    fallback: 'Entschuldigung, das habe ich nicht verstanden. Wählen Sie ein Thema oder sprechen Sie mit einem Menschen.',
    more: 'Kann ich sonst noch helfen?',
    view: 'Produkt ansehen',
    sizeGuide: 'Größentabelle',
    track: 'Sendung verfolgen',
    returnItem: 'Artikel zurücksenden',
    menu: { shipping: 'Lieferzeit', returns: 'Rücksendungen', sizes: 'Größen', order_status: 'Bestellstatus', human: 'Mit einem Menschen sprechen' },
    queued: (position) =>
      position <= 1
        ? 'Wir verbinden Sie mit einem Menschen. Sie sind als Nächstes an der Reihe; gleich ist jemand für Sie da.'
        : `Wir verbinden Sie mit einem Menschen. Ihre Position in der Warteschlange: ${position}. Gleich ist jemand für Sie da.`,
    offline: 'Unser Team ist gerade nicht erreichbar. Hinterlassen Sie im Formular Ihre E-Mail-Adresse und eine Nachricht, dann melden wir uns bei Ihnen.',
    contactThanks: (email) => `Danke! Wir antworten Ihnen innerhalb eines Werktags an ${email}.`,
    rating: 'Wie waren wir? Bitte bewerten Sie dieses Gespräch.',
    aiBrokeOff: 'Entschuldigung, meine Antwort ist abgebrochen. Fragen Sie mich noch einmal oder sprechen Sie mit einem Menschen.',
  },
  pt: {
    bot: 'Bot da Parley',
    ai: 'IA da Parley',
    orderAsk: 'Me diga o número do seu pedido, por exemplo "pedido 1001", e eu procuro para você.',
    orderFound: (n) => `Aqui está o pedido nº ${n}:`,
    orderMissing: (n) => `Não encontrei o pedido nº ${n}. Confira o número no e-mail de confirmação ou fale com um atendente.`,
    orderTitle: (n) => `Pedido nº ${n}`,
    products: 'Veja o que temos:',
    hello: 'Olá! Eu sou o bot da Parley. Como posso ajudar?',
    thanks: 'De nada! Posso ajudar em algo mais?',
    fallback: 'Desculpe, não entendi. Escolha um assunto ou fale com um atendente.',
    more: 'Posso ajudar em algo mais?',
    view: 'Ver produto',
    sizeGuide: 'Guia de tamanhos',
    track: 'Rastrear pacote',
    returnItem: 'Devolver um item',
    menu: { shipping: 'Prazo de entrega', returns: 'Devoluções', sizes: 'Tamanhos', order_status: 'Status do pedido', human: 'Falar com um atendente' },
    queued: (position) =>
      position <= 1
        ? 'Estamos transferindo você para um atendente. É a sua vez em seguida; alguém vai falar com você em instantes.'
        : `Estamos transferindo você para um atendente. Sua posição na fila: ${position}. Alguém vai falar com você em instantes.`,
    offline: 'Nossa equipe está offline agora. Deixe seu e-mail e uma mensagem no formulário, e entraremos em contato.',
    contactThanks: (email) => `Obrigado! Vamos responder em ${email} em até um dia útil.`,
    rating: 'Como foi o atendimento? Avalie esta conversa.',
    aiBrokeOff: 'Desculpe, minha resposta foi interrompida. Pergunte de novo ou fale com um atendente.',
  },
  ja: {
    bot: 'Parley ボット',
    ai: 'Parley AI アシスタント',
    orderAsk: '「注文 1001」のように注文番号を教えていただければ、お調べします。',
    orderFound: (n) => `ご注文 #${n} の状況です：`,
    orderMissing: (n) => `ご注文 #${n} が見つかりません。確認メールに記載の注文番号をご確認いただくか、オペレーターにご相談ください。`,
    orderTitle: (n) => `ご注文 #${n}`,
    products: 'おすすめの商品はこちらです：',
    hello: 'こんにちは！Parley ボットです。どのようなご用件でしょうか？',
    thanks: 'どういたしまして！ほかにご質問はありますか？',
    fallback: '申し訳ありません、よくわかりませんでした。トピックを選んでいただくか、オペレーターにご相談ください。',
    more: 'ほかにご質問はありますか？',
    view: '商品を見る',
    sizeGuide: 'サイズガイド',
    track: '配送状況を確認',
    returnItem: '返品する',
    menu: { shipping: '配送日数', returns: '返品', sizes: 'サイズ', order_status: '注文状況', human: 'オペレーターと話す' },
    queued: (position) =>
      position <= 1
        ? 'オペレーターにおつなぎしています。次にご案内しますので、少々お待ちください。'
        : `オペレーターにおつなぎしています。現在の順番は ${position} 番目です。少々お待ちください。`,
    offline: 'ただいまスタッフが対応できません。フォームにメールアドレスとメッセージをご記入いただければ、折り返しご連絡いたします。',
    contactThanks: (email) => `ありがとうございます！1 営業日以内に ${email} 宛にご返信いたします。`,
    rating: '対応はいかがでしたか？この会話を評価してください。',
    aiBrokeOff: '申し訳ありません、回答が途中で途切れました。もう一度ご質問いただくか、オペレーターにご相談ください。',
  },
  ko: {
    bot: 'Parley 봇',
    ai: 'Parley AI 도우미',
    orderAsk: '"주문 1001"처럼 주문 번호를 알려 주시면 조회해 드릴게요.',
    orderFound: (n) => `주문 #${n} 정보입니다:`,
    orderMissing: (n) => `주문 번호 ${n}에 해당하는 주문을 찾을 수 없습니다. 확인 이메일의 주문 번호를 확인하시거나 상담원과 이야기해 주세요.`,
    orderTitle: (n) => `주문 #${n}`,
    products: '이런 상품이 있어요:',
    hello: '안녕하세요! Parley 봇입니다. 무엇을 도와드릴까요?',
    thanks: '천만에요! 더 궁금한 점이 있으신가요?',
    fallback: '죄송해요, 잘 이해하지 못했어요. 주제를 선택하시거나 상담원과 이야기해 보세요.',
    more: '더 궁금한 점이 있으신가요?',
    view: '상품 보기',
    sizeGuide: '사이즈 가이드',
    track: '배송 조회',
    returnItem: '반품 신청',
    menu: { shipping: '배송 기간', returns: '반품', sizes: '사이즈', order_status: '주문 상태', human: '상담원 연결' },
    queued: (position) =>
      position <= 1
        ? '상담원에게 연결하고 있습니다. 다음 순서이니 잠시만 기다려 주세요.'
        : `상담원에게 연결하고 있습니다. 현재 대기 순서는 ${position}번째입니다. 잠시만 기다려 주세요.`,
    offline: '지금은 상담원이 자리에 없습니다. 양식에 이메일과 메시지를 남겨 주시면 답변해 드리겠습니다.',
    contactThanks: (email) => `감사합니다! 영업일 기준 1일 이내에 ${email}(으)로 답변해 드리겠습니다.`,
    rating: '상담은 어떠셨나요? 이 대화를 평가해 주세요.',
    aiBrokeOff: '죄송해요, 답변이 중간에 끊겼어요. 다시 질문하시거나 상담원과 이야기해 보세요.',
  },
  ru: {
    bot: 'Бот Parley',
    ai: 'ИИ-помощник Parley',
    orderAsk: 'Назовите номер заказа, например «заказ 1001», и я его найду.',
    orderFound: (n) => `Вот заказ № ${n}:`,
    orderMissing: (n) => `Не могу найти заказ № ${n}. Проверьте номер в письме с подтверждением или свяжитесь с оператором.`,
    orderTitle: (n) => `Заказ № ${n}`,
    products: 'Вот что у нас есть:',
    hello: 'Здравствуйте! Я бот Parley. Чем могу помочь?',
    thanks: 'Пожалуйста! Могу ещё чем-нибудь помочь?',
    fallback: 'Извините, я не понял. Выберите тему или свяжитесь с оператором.',
    more: 'Могу ещё чем-нибудь помочь?',
    view: 'Открыть товар',
    sizeGuide: 'Таблица размеров',
    track: 'Отследить посылку',
    returnItem: 'Вернуть товар',
    menu: { shipping: 'Сроки доставки', returns: 'Возврат', sizes: 'Размеры', order_status: 'Статус заказа', human: 'Связаться с оператором' },
    queued: (position) =>
      position <= 1
        ? 'Соединяем вас с оператором. Ваша очередь — следующая; оператор скоро ответит.'
        : `Соединяем вас с оператором. Ваше место в очереди: ${position}. Оператор скоро ответит.`,
    offline: 'Сейчас наша команда не в сети. Оставьте в форме адрес электронной почты и сообщение, и мы вам ответим.',
    contactThanks: (email) => `Спасибо! Мы ответим на ${email} в течение одного рабочего дня.`,
    rating: 'Как мы справились? Пожалуйста, оцените этот разговор.',
    aiBrokeOff: 'Извините, мой ответ прервался. Спросите ещё раз или свяжитесь с оператором.',
  },
};

/** How the bot signs its messages in `locale`: the widget labels them as the bot's. */
export function botOf(locale: Locale): Sender & { role: 'bot' } {
  return { role: 'bot', name: T[locale].bot };
}

/** How the demo AI signs its answers in `locale`: the widget labels them "AI". */
export function aiBotOf(locale: Locale): Sender & { role: 'bot' } {
  return { role: 'bot', ai: true, name: T[locale].ai };
}

/** Texts the handoff flow says, in the visitor's language. */
export const HANDOFF_TEXT: Readonly<Record<Locale, Pick<Phrases, 'queued' | 'offline'>>> = T;

/** The rating request sent when an agent closes the conversation. */
export const RATING_TEXT = byLocale((t) => t.rating);
/** Said after an AI answer broke off, with the way to a human first. */
export const AI_BROKE_OFF = byLocale((t) => t.aiBrokeOff);

function byLocale(pick: (t: Phrases) => string): Readonly<Record<Locale, string>> {
  return Object.fromEntries(LOCALES.map((l) => [l, pick(T[l])])) as Record<Locale, string>;
}

/** Words that ask for a person, in every language the bot speaks. */
export const HANDOFF_WORDS =
  /(?<!\p{L})((human|agent|real person|operator|representative|humano|persona real|hablar con (una )?persona|agente|operadora?|asesora?|humain|conseill(er|ère)|opérateur|opératrice|vraie personne|menschen?|mitarbeiter(in)?|berater(in)?|echten? person|atendente|pessoa real)(?!\p{L}))|转人工|人工|真人|客服|オペレーター|担当者|人間|有人|상담원|상담사|사람과|직원|оператор|человек|живой|менеджер|консультант|موظف|إنسان|انسان|شخص حقيقي|خدمة العملاء/iu;
const ORDER_NUMBER = /(?:order|pedido|encomenda|commande|bestellung|auftrag|заказ|订单|注文|주문|طلب|#)\D{0,15}?(\d{3,10})/iu;

const INTENTS: [RegExp, 'shipping' | 'returns' | 'sizes' | 'order_status'][] = [
  [
    /(?<!\p{L})((ship(ping)?|deliver(y|ed)?|arrive|how long|dispatch)(?!\p{L})|env[ií]o|entrega|llega|cuánto tarda|livraison|livré|expédi|délai|versand|liefer|zustell|wann kommt|frete|chega|prazo)|发货|配送|快递|运费|多久|到货|発送|配達|届く|送料|배송|배달|доставк|отправ|شحن|توصيل|يصل|وصول/iu,
    'shipping',
  ],
  [
    /(?<!\p{L})((returns?|refunds?|exchanges?|send (it )?back)(?!\p{L})|devoluci|devoluç|devolv|reembols|retour|rembours|échange|renvoy|rücksend|rückgabe|zurückschick|umtausch|erstatt|retoure|troca)|退货|退款|换货|退换|返品|返金|交換|반품|환불|교환|возврат|вернуть|обмен|إرجاع|ارجاع|استرجاع|استرداد|استبدال/iu,
    'returns',
  ],
  [
    /(?<!\p{L})((sizes?|sizing|fit|fits)(?!\p{L})|talla|taille|pointure|größe|grösse|passform|tamanho)|尺码|尺寸|大小|码数|サイズ|사이즈|치수|размер|مقاس|قياس/iu,
    'sizes',
  ],
  [
    /(?<!\p{L})((order|track(ing)?|where is my|parcel|package)(?!\p{L})|pedido|seguimiento|paquete|commande|colis|suivi|bestellung|sendung|paket|verfolg|encomenda|rastre|pacote)|订单|物流|包裹|注文|荷物|追跡|주문|운송장|заказ|посылк|отслед|طلب|تتبع|تعقب/iu,
    'order_status',
  ],
];
const GREETING =
  /^\s*((hi|hello|hey|good (morning|afternoon|evening)|hola|buenas|buenos días|bonjour|salut|bonsoir|hallo|guten (tag|morgen|abend)|moin|servus|olá|ola|oi|bom dia|boa (tarde|noite)|привет|здравствуйте|добрый (день|вечер))(?!\p{L})|你好|您好|嗨|こんにちは|こんばんは|おはよう|안녕|مرحب|السلام عليكم|أهلا|اهلا)/iu;
const THANKS = /(?<!\p{L})((thanks?|thank you|thx|gracias|merci|danke|obrigad[oa])(?!\p{L})|спасибо)|谢谢|多谢|ありがとう|감사|고마워|شكر|مشكور/iu;

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
  return { from: botOf(locale), body: { type: 'quick_replies', text, replies: menu(locale, except ? [except] : []) } };
}

function text(value: string, locale: Locale): OutgoingMessage {
  return { from: botOf(locale), body: { type: 'text', text: value } };
}

function productCard(p: Product, locale: Locale, shopUrl: string): OutgoingMessage {
  return {
    from: botOf(locale),
    body: {
      type: 'card',
      kind: 'product',
      title: p.title[locale],
      price: productPrice(p, locale),
      imageUrl: shopUrl + p.image,
      url: shopUrl + p.page,
      actions: [
        { label: T[locale].view, url: shopUrl + p.page },
        { label: T[locale].sizeGuide, value: 'sizes' },
      ],
    },
  };
}

function orderAnswer(number: string, locale: Locale, shopUrl: string, now: number): OutgoingMessage[] {
  const order = findOrder(number);
  const t = T[locale];
  if (!order) return [say(t.orderMissing(number), locale)];
  return [
    text(t.orderFound(number), locale),
    {
      from: botOf(locale),
      body: {
        type: 'card',
        kind: 'order',
        title: t.orderTitle(order.number),
        subtitle: orderStatus(order, locale, now),
        price: formatMoney(orderTotal(order), locale),
        imageUrl: `${shopUrl}/img/order.svg`,
        url: order.trackingUrl,
        actions: [
          { label: t.track, url: order.trackingUrl },
          { label: t.returnItem, value: 'returns' },
          { label: t.menu.human, value: HANDOFF_VALUE },
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
      return [say(faqEntry(value).answer[locale], locale, value)];
    case 'order_status':
      return [say(T[locale].orderAsk, locale, 'order_status')];
    default:
      return undefined;
  }
}

/** The bot's answer to a visitor's text, in `locale`; an order's day of arrival is counted from `now`. */
export function answerText(input: string, locale: Locale, shopUrl: string, now: number = Date.now()): BotAnswer {
  const words = asciiDigits(input.trim());
  if (HANDOFF_WORDS.test(words)) return { messages: [], handoff: true };
  const order = ORDER_NUMBER.exec(words);
  if (order?.[1]) return { messages: orderAnswer(order[1], locale, shopUrl, now) };
  const products = findProducts(words);
  if (products.length) {
    return {
      messages: [text(T[locale].products, locale), ...products.map((p) => productCard(p, locale, shopUrl)), say(T[locale].more, locale)],
    };
  }
  for (const [pattern, intent] of INTENTS) if (pattern.test(words)) return { messages: topic(intent, locale)! };
  if (GREETING.test(words)) return { messages: [say(T[locale].hello, locale)] };
  if (THANKS.test(words)) return { messages: [say(T[locale].thanks, locale)] };
  return { messages: [say(T[locale].fallback, locale)] };
}

/** The bot's answer to a tapped button. */
export function answerPostback(value: string, locale: Locale): BotAnswer {
  if (value === HANDOFF_VALUE) return { messages: [], handoff: true };
  return { messages: topic(value, locale) ?? [say(T[locale].fallback, locale)] };
}

/** The bot's thanks for a message left while offline. */
export function contactThanks(email: string, locale: Locale): OutgoingMessage {
  return text(T[locale].contactThanks(email), locale);
}

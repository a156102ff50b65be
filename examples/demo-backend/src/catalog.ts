import { formatDay, formatList, formatMoney, type Locale, type Money } from './locale.js';

// The demo shop's products and orders. A merchant reads these from their own catalogue
// and order system; image and page URLs point at the shop, so they load under the shop's
// Content-Security-Policy. Prices and dates are kept as numbers and written in the visitor's
// language when shown.

export interface Product {
  id: string;
  title: Record<Locale, string>;
  price: Money;
  /** Words (any language) that make a question about this product. */
  keywords: RegExp;
  /** What the product page says about it. */
  description: Record<Locale, string>;
  /** More words a shopper may use for it (searched by the AI answerer, never shown). */
  terms: { en: string; 'zh-CN': string };
  image: string;
  page: string;
}

export interface Order {
  number: string;
  /** `shipped`: on its way, arriving `arrivesInDays` from today. `packing`: leaves the warehouse today. */
  state: 'shipped' | 'packing';
  arrivesInDays?: number;
  items: { productId: string; quantity: number }[];
  trackingUrl: string;
}

export const PRODUCTS: readonly Product[] = [
  {
    id: 'trail-runner-2',
    title: {
      en: 'Trail Runner 2',
      'zh-CN': 'Trail Runner 2 越野跑鞋',
      ar: 'حذاء الجري Trail Runner 2',
      es: 'Zapatillas Trail Runner 2',
      fr: 'Chaussures Trail Runner 2',
      de: 'Trailrunning-Schuh Trail Runner 2',
      pt: 'Tênis Trail Runner 2',
      ja: 'Trail Runner 2 トレイルランニングシューズ',
      ko: 'Trail Runner 2 트레일 러닝화',
      ru: 'Кроссовки Trail Runner 2',
    },
    price: { amount: 129, currency: 'EUR' },
    keywords:
      /(?<!\p{L})(shoes?|sneakers?|runners?|running|trainers?|footwear|zapatillas?|zapatos?|calzado|chaussures?|baskets?|schuhe?|laufschuhe?|tênis|tenis|sapatos?|calçados?)(?!\p{L})|鞋|跑鞋|靴|シューズ|スニーカー|حذاء|أحذية|احذية|신발|운동화|러닝화|кроссовк|обув/iu,
    description: {
      en: 'A light, grippy trail shoe for long days out: a cushioned midsole, a lugged outsole that holds on wet rock, and 310 g per shoe. EU sizes 36–47.',
      'zh-CN': '轻量、抓地力强的越野跑鞋，适合长时间户外：缓震中底，湿滑岩石上也抓地的齿纹大底，单只 310 克。欧码 36–47。',
      ar: 'حذاء خفيف للجري في المسارات يثبت جيدًا على الأرض، يناسب الأيام الطويلة في الخارج: نعل أوسط مبطّن، ونعل خارجي بنتوءات يثبت على الصخور المبللة، ووزن 310 غرامات للفردة. المقاسات الأوروبية 36–47.',
      es: 'Una zapatilla de trail ligera y con gran agarre para jornadas largas: mediasuela amortiguada, suela con tacos que se agarra a la roca mojada y 310 g por zapatilla. Tallas europeas 36–47.',
      fr: 'Une chaussure de trail légère et accrocheuse pour les longues sorties : semelle intermédiaire amortie, semelle à crampons qui tient sur la roche mouillée, 310 g la chaussure. Pointures européennes 36–47.',
      de: 'Ein leichter Trailschuh mit viel Grip für lange Tage draußen: gedämpfte Zwischensohle, eine Stollensohle, die auch auf nassem Fels hält, und 310 g pro Schuh. EU-Größen 36–47.',
      pt: 'Um tênis de trilha leve e com ótima aderência para dias longos: entressola amortecida, solado com cravos que segura na pedra molhada e 310 g por pé. Tamanhos europeus 36–47.',
      ja: '長い一日のトレイルに向く、軽量でグリップ力の高いシューズ。クッション性のあるミッドソール、濡れた岩でも滑りにくいラグ付きアウトソール、片足 310 g。EU サイズ 36–47。',
      ko: '오랜 시간 아웃도어 활동에 알맞은 가볍고 접지력 좋은 트레일 러닝화입니다. 쿠션감 있는 미드솔, 젖은 바위에서도 미끄러지지 않는 러그 아웃솔, 한 짝 310g. EU 사이즈 36–47.',
      ru: 'Лёгкие кроссовки для трейла с цепкой подошвой для долгих вылазок: амортизирующая промежуточная подошва, протектор, который держит на мокрых камнях, 310 г на одну кроссовку. Европейские размеры 36–47.',
    },
    terms: {
      en: 'shoe shoes sneaker sneakers runner runners running trainer trainers footwear trail grip cushion product products sell catalogue catalog recommend',
      'zh-CN': '鞋 跑鞋 越野 运动鞋 鞋子 产品 商品 推荐',
    },
    image: '/img/trail-runner.svg',
    page: '/',
  },
  {
    id: 'ridge-shell-jacket',
    title: {
      en: 'Ridge Shell Jacket',
      'zh-CN': 'Ridge 防风防水夹克',
      ar: 'سترة Ridge المقاومة للماء',
      es: 'Chaqueta impermeable Ridge',
      fr: 'Veste imperméable Ridge',
      de: 'Hardshell-Jacke Ridge',
      pt: 'Jaqueta impermeável Ridge',
      ja: 'Ridge シェルジャケット',
      ko: 'Ridge 방수 재킷',
      ru: 'Мембранная куртка Ridge',
    },
    price: { amount: 189, currency: 'EUR' },
    keywords:
      /(?<!\p{L})(jackets?|coats?|shells?|rain ?wear|waterproof|chaquetas?|abrigos?|impermeables?|vestes?|manteaux?|imperméables?|jacken?|regenjacken?|mantel|jaquetas?|casacos?|impermeáveis|impermeável)(?!\p{L})|夹克|外套|冲锋衣|ジャケット|レインウェア|上着|سترة|جاكيت|جاكت|معطف|재킷|자켓|외투|바람막이|куртк|ветровк|дождевик/iu,
    description: {
      en: 'A waterproof, breathable shell with taped seams, a helmet-compatible hood and pit zips. It packs into its own pocket. Sizes S–XXL.',
      'zh-CN': '防水透气的硬壳夹克，全压胶缝线，可兼容头盔的兜帽，腋下透气拉链，可收纳进自身口袋。尺码 S–XXL。',
      ar: 'سترة خارجية مقاومة للماء وتسمح بمرور الهواء، بدرزات ملصوقة، وقلنسوة تتسع للخوذة، وسحابات تهوية تحت الإبطين. تُطوى داخل جيبها. المقاسات S–XXL.',
      es: 'Una chaqueta impermeable y transpirable con costuras termoselladas, capucha compatible con casco y cremalleras de ventilación en las axilas. Se guarda en su propio bolsillo. Tallas S–XXL.',
      fr: 'Une veste imperméable et respirante aux coutures étanchées, avec capuche compatible casque et zips d’aération sous les bras. Elle se range dans sa propre poche. Tailles S–XXL.',
      de: 'Eine wasserdichte, atmungsaktive Hardshell mit verschweißten Nähten, helmtauglicher Kapuze und Unterarmbelüftung. Sie lässt sich in die eigene Tasche packen. Größen S–XXL.',
      pt: 'Uma jaqueta impermeável e respirável com costuras seladas, capuz compatível com capacete e zíperes de ventilação nas axilas. Pode ser guardada no próprio bolso. Tamanhos S–XXL.',
      ja: '防水透湿のシェルジャケット。シームテープ加工、ヘルメット対応フード、脇下のベンチレーションジッパー付き。自身のポケットに収納できます。サイズ S–XXL。',
      ko: '심실링 처리된 방수·투습 셸 재킷으로, 헬멧 호환 후드와 겨드랑이 벤틸레이션 지퍼를 갖췄습니다. 자체 주머니에 수납할 수 있습니다. 사이즈 S–XXL.',
      ru: 'Непромокаемая дышащая куртка с проклеенными швами, капюшоном под шлем и вентиляционными молниями под мышками. Складывается в собственный карман. Размеры S–XXL.',
    },
    terms: {
      en: 'jacket jackets coat coats shell rain rainwear waterproof windproof hood product products sell catalogue catalog recommend',
      'zh-CN': '夹克 外套 冲锋衣 防水 防风 雨衣 产品 商品 推荐',
    },
    image: '/img/trail-jacket.svg',
    page: '/?product=ridge-shell-jacket',
  },
];

export const ORDERS: readonly Order[] = [
  {
    number: '1001',
    state: 'shipped',
    arrivesInDays: 2,
    items: [{ productId: 'trail-runner-2', quantity: 1 }],
    trackingUrl: 'https://tracking.example/parcel/PRL1001',
  },
  {
    number: '1002',
    state: 'packing',
    items: [
      { productId: 'ridge-shell-jacket', quantity: 1 },
      { productId: 'trail-runner-2', quantity: 1 },
    ],
    trackingUrl: 'https://tracking.example/parcel/PRL1002',
  },
];

/** Where an order is, in each language; `day` is when a shipped one arrives, as the language writes it. */
const STATUS: Record<Locale, { shipped: (day: string) => string; packing: string }> = {
  en: { shipped: (day) => `Shipped — arriving ${day}`, packing: 'Being packed — ships today' },
  'zh-CN': { shipped: (day) => `已发货 — 预计 ${day}送达`, packing: '正在打包 — 今天发货' },
  ar: { shipped: (day) => `تم الشحن — موعد الوصول المتوقع ${day}`, packing: 'قيد التغليف — يُشحن اليوم' },
  es: { shipped: (day) => `Enviado — llega el ${day}`, packing: 'En preparación — sale hoy' },
  fr: { shipped: (day) => `Expédiée — livraison prévue le ${day}`, packing: 'En préparation — expédiée aujourd’hui' },
  de: { shipped: (day) => `Versandt — voraussichtliche Zustellung am ${day}`, packing: 'Wird verpackt — Versand heute' },
  pt: { shipped: (day) => `Enviado — previsão de entrega: ${day}`, packing: 'Em separação — enviado hoje' },
  ja: { shipped: (day) => `発送済み — ${day}にお届け予定`, packing: '梱包中 — 本日発送予定' },
  ko: { shipped: (day) => `발송 완료 — ${day} 도착 예정`, packing: '포장 중 — 오늘 발송 예정' },
  ru: { shipped: (day) => `Отправлен — доставка ожидается ${day}`, packing: 'Собирается — отправим сегодня' },
};

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the order is, in `locale`, with its day of arrival counted from `now`. */
export function orderStatus(order: Order, locale: Locale, now: number): string {
  const status = STATUS[locale];
  if (order.state === 'packing') return status.packing;
  return status.shipped(formatDay(new Date(now + (order.arrivesInDays ?? 0) * DAY_MS), locale));
}

/** What the order holds, in `locale`: `Ridge Shell Jacket × 1 and Trail Runner 2 × 1`. */
export function orderItems(order: Order, locale: Locale): string {
  return formatList(
    order.items.map((item) => `${productById(item.productId).title[locale]} × ${item.quantity}`),
    locale,
  );
}

/** What the order costs: the sum of its items. */
export function orderTotal(order: Order): Money {
  const amount = order.items.reduce((sum, item) => sum + productById(item.productId).price.amount * item.quantity, 0);
  return { amount, currency: productById(order.items[0]!.productId).price.currency };
}

/** A product's price in `locale`. */
export function productPrice(product: Product, locale: Locale): string {
  return formatMoney(product.price, locale);
}

function productById(id: string): Product {
  return PRODUCTS.find((p) => p.id === id)!;
}

/** Products a question is about; every product for a general "what do you sell". */
export function findProducts(text: string): Product[] {
  const hits = PRODUCTS.filter((p) => p.keywords.test(text));
  if (hits.length) return hits;
  return ALL_PRODUCTS.test(text) ? [...PRODUCTS] : [];
}

/** Words that ask what the shop sells, in every language the bot speaks. */
const ALL_PRODUCTS =
  /(?<!\p{L})((products?|catalog(ue)?|recommend|productos?|catálogo|produits?|produkte?|katalog|sortiment|produtos?)(?!\p{L})|what do you sell|qué vend|recommand|empfehl|recomend)|产品|商品|推荐|製品|おすすめ|منتج|ماذا تبيع|كتالوج|상품|제품|추천|товар|каталог|ассортимент/iu;

export function findOrder(number: string): Order | undefined {
  return ORDERS.find((o) => o.number === number);
}

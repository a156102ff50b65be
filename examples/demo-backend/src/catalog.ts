import type { Locale } from './locale.js';

// The demo shop's products and orders. A merchant reads these from their own catalogue
// and order system; image and page URLs point at the shop, so they load under the shop's
// Content-Security-Policy.

export interface Product {
  id: string;
  title: Record<Locale, string>;
  price: string;
  /** Words (any language) that make a question about this product. */
  keywords: RegExp;
  /** What the product page says about it. */
  description: Record<Locale, string>;
  /** More words a shopper may use for it (searched by the AI answerer, never shown). */
  terms: Record<Locale, string>;
  image: string;
  page: string;
}

export interface Order {
  number: string;
  status: Record<Locale, string>;
  total: string;
  items: string;
  trackingUrl: string;
}

export const PRODUCTS: readonly Product[] = [
  {
    id: 'trail-runner-2',
    title: { en: 'Trail Runner 2', 'zh-CN': 'Trail Runner 2 越野跑鞋' },
    price: '€129.00',
    keywords: /\b(shoes?|sneakers?|runners?|running|trainers?|footwear)\b|鞋|跑鞋/i,
    description: {
      en: 'A light, grippy trail shoe for long days out: a cushioned midsole, a lugged outsole that holds on wet rock, and 310 g per shoe. EU sizes 36–47.',
      'zh-CN': '轻量、抓地力强的越野跑鞋，适合长时间户外：缓震中底，湿滑岩石上也抓地的齿纹大底，单只 310 克。欧码 36–47。',
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
    title: { en: 'Ridge Shell Jacket', 'zh-CN': 'Ridge 防风防水夹克' },
    price: '€189.00',
    keywords: /\b(jackets?|coats?|shells?|rain ?wear|waterproof)\b|夹克|外套|冲锋衣/i,
    description: {
      en: 'A waterproof, breathable shell with taped seams, a helmet-compatible hood and pit zips. It packs into its own pocket. Sizes S–XXL.',
      'zh-CN': '防水透气的硬壳夹克，全压胶缝线，可兼容头盔的兜帽，腋下透气拉链，可收纳进自身口袋。尺码 S–XXL。',
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
    status: { en: 'Shipped — arriving in 2 days', 'zh-CN': '已发货 — 预计 2 天内送达' },
    total: '€129.00',
    items: 'Trail Runner 2 × 1',
    trackingUrl: 'https://tracking.example/parcel/PRL1001',
  },
  {
    number: '1002',
    status: { en: 'Being packed — ships today', 'zh-CN': '正在打包 — 今天发货' },
    total: '€318.00',
    items: 'Ridge Shell Jacket × 1, Trail Runner 2 × 1',
    trackingUrl: 'https://tracking.example/parcel/PRL1002',
  },
];

/** Products a question is about; every product for a general "what do you sell". */
export function findProducts(text: string): Product[] {
  const hits = PRODUCTS.filter((p) => p.keywords.test(text));
  if (hits.length) return hits;
  return /\b(products?|catalog(ue)?|what do you sell|recommend)\b|产品|商品|推荐/i.test(text) ? [...PRODUCTS] : [];
}

export function findOrder(number: string): Order | undefined {
  return ORDERS.find((o) => o.number === number);
}

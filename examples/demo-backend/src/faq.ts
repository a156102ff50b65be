import type { Locale } from './locale.js';

// The demo shop's help pages (examples/shop/public/help.html shows the same entries, each
// under its own anchor). The FAQ bot answers its buttons with them; the AI answerer
// retrieves from them and links each answer to its entry.

export type FaqTopic = 'shipping' | 'returns' | 'sizes' | 'order_status' | 'payment' | 'warranty';

export interface FaqEntry {
  topic: FaqTopic;
  /** The entry's heading on the help page. */
  title: Record<Locale, string>;
  answer: Record<Locale, string>;
  /** More words a shopper may use for this topic (searched, never shown). */
  terms: Record<Locale, string>;
  /** The entry's path on the shop: the help page and the entry's anchor. */
  page: string;
}

export const FAQ: readonly FaqEntry[] = [
  {
    topic: 'shipping',
    title: { en: 'Shipping and delivery times', 'zh-CN': '配送与送达时间' },
    answer: {
      en: 'Orders placed before 3 pm ship the same day. Delivery takes 2–4 business days in the EU, 5–8 elsewhere. Shipping is free over €50.',
      'zh-CN': '下午 3 点前下单当天发货。欧盟境内 2–4 个工作日送达，其他地区 5–8 个工作日。订单满 €50 免运费。',
    },
    terms: {
      en: 'ship shipping deliver delivery arrive arrival dispatch how long days cost free postage courier international',
      'zh-CN': '发货 配送 快递 运费 多久 到货 送达 邮费 包邮',
    },
    page: '/help.html#shipping',
  },
  {
    topic: 'returns',
    title: { en: 'Returns and refunds', 'zh-CN': '退货与退款' },
    answer: {
      en: 'You can return anything within 30 days, free of charge. Start a return from your order page; the refund reaches your original payment method within 5 business days of the parcel arriving back with us.',
      'zh-CN': '30 天内可免费退货。请在订单页面发起退货；退回的包裹到达后 5 个工作日内，退款将原路退回。',
    },
    terms: {
      en: 'return returns refund money back exchange send back wrong unhappy',
      'zh-CN': '退货 退款 换货 退换 退钱 不满意',
    },
    page: '/help.html#returns',
  },
  {
    topic: 'sizes',
    title: { en: 'Sizes and fit', 'zh-CN': '尺码与合身' },
    answer: {
      en: 'Our shoes run true to size (EU sizes 36–47). Between two sizes? Take the larger one. Jackets follow standard S–XXL; see the size chart on each product page.',
      'zh-CN': '我们的鞋子尺码标准（欧码 36–47）。介于两个尺码之间时，建议选大一码。夹克为标准 S–XXL，详见商品页的尺码表。',
    },
    terms: {
      en: 'size sizes sizing fit fits small large big tight chart measure true',
      'zh-CN': '尺码 尺寸 大小 码数 合身 偏大 偏小',
    },
    page: '/help.html#sizes',
  },
  {
    topic: 'order_status',
    title: { en: 'Tracking your order', 'zh-CN': '查询订单' },
    answer: {
      en: 'Every order gets a tracking link by email as soon as it ships. Tell me your order number, like "order 1001", and I will look up its status.',
      'zh-CN': '订单发货后，您会收到带有物流链接的邮件。告诉我您的订单号，例如「订单 1001」，我来帮您查询状态。',
    },
    terms: {
      en: 'order track tracking where parcel package status number shipped',
      'zh-CN': '订单 物流 包裹 查询 追踪 单号',
    },
    page: '/help.html#orders',
  },
  {
    topic: 'payment',
    title: { en: 'Payment methods', 'zh-CN': '支付方式' },
    answer: {
      en: 'We accept Visa, Mastercard, American Express, PayPal and Apple Pay. Your card is charged when the order ships.',
      'zh-CN': '我们接受 Visa、Mastercard、American Express、PayPal 和 Apple Pay。订单发货时才会扣款。',
    },
    terms: {
      en: 'pay payment paypal card credit visa mastercard amex apple charge charged invoice',
      'zh-CN': '支付 付款 信用卡 扣款 发票',
    },
    page: '/help.html#payment',
  },
  {
    topic: 'warranty',
    title: { en: 'Warranty and repairs', 'zh-CN': '保修与维修' },
    answer: {
      en: 'Everything we sell has a 2-year warranty against defects in materials and workmanship. If a seam opens or a sole comes loose, send us a photo and we will repair or replace it.',
      'zh-CN': '所有商品均享有 2 年质量保修。如出现开线或鞋底脱胶，请发照片给我们，我们会为您维修或更换。',
    },
    terms: {
      en: 'warranty guarantee broken defect defective repair replace damaged seam sole broke',
      'zh-CN': '保修 质量 维修 坏了 损坏 更换 开线 脱胶',
    },
    page: '/help.html#warranty',
  },
];

/** The help entry of a topic. */
export function faqEntry(topic: FaqTopic): FaqEntry {
  return FAQ.find((e) => e.topic === topic)!;
}

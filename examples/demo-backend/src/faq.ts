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
  /** More words a shopper may use for this topic (searched by the AI answerer, never shown). */
  terms: { en: string; 'zh-CN': string };
  /** The entry's path on the shop: the help page and the entry's anchor. */
  page: string;
}

export const FAQ: readonly FaqEntry[] = [
  {
    topic: 'shipping',
    title: {
      en: 'Shipping and delivery times',
      'zh-CN': '配送与送达时间',
      ar: 'الشحن ومدة التوصيل',
      es: 'Envíos y plazos de entrega',
      fr: 'Livraison et délais',
      de: 'Versand und Lieferzeiten',
      pt: 'Envio e prazos de entrega',
      ja: '配送とお届け日数',
      ko: '배송 및 도착 기간',
      ru: 'Доставка и сроки',
    },
    answer: {
      en: 'Orders placed before 3 pm ship the same day. Delivery takes 2–4 business days in the EU, 5–8 elsewhere. Shipping is free over €50.',
      'zh-CN': '下午 3 点前下单当天发货。欧盟境内 2–4 个工作日送达，其他地区 5–8 个工作日。订单满 €50 免运费。',
      ar: 'الطلبات التي تصل قبل الساعة 3 عصرًا تُشحن في اليوم نفسه. يستغرق التوصيل من 2 إلى 4 أيام عمل داخل الاتحاد الأوروبي، ومن 5 إلى 8 أيام في غيره. الشحن مجاني للطلبات التي تزيد على 50 €.',
      es: 'Los pedidos realizados antes de las 15:00 salen el mismo día. La entrega tarda de 2 a 4 días hábiles en la UE y de 5 a 8 en el resto del mundo. El envío es gratuito a partir de 50 €.',
      fr: 'Les commandes passées avant 15 h sont expédiées le jour même. La livraison prend 2 à 4 jours ouvrés dans l’UE, 5 à 8 ailleurs. La livraison est offerte dès 50 €.',
      de: 'Bestellungen bis 15 Uhr verlassen noch am selben Tag unser Lager. Die Lieferung dauert in der EU 2–4 Werktage, anderswo 5–8. Ab 50 € ist der Versand kostenlos.',
      pt: 'Pedidos feitos até as 15h são enviados no mesmo dia. A entrega leva de 2 a 4 dias úteis na UE e de 5 a 8 nos demais países. O frete é grátis acima de € 50.',
      ja: '午後 3 時までのご注文は当日発送します。お届けまで EU 域内は 2～4 営業日、その他の地域は 5～8 営業日です。€50 以上のご注文で送料無料です。',
      ko: '오후 3시 이전 주문은 당일 발송됩니다. 배송에는 EU 지역 2~4영업일, 그 외 지역 5~8영업일이 걸립니다. €50 이상 주문 시 무료 배송입니다.',
      ru: 'Заказы, оформленные до 15:00, отправляем в тот же день. Доставка по ЕС занимает 2–4 рабочих дня, в другие страны — 5–8. Доставка бесплатна для заказов от 50 €.',
    },
    terms: {
      en: 'ship shipping deliver delivery arrive arrival dispatch how long days cost free postage courier international',
      'zh-CN': '发货 配送 快递 运费 多久 到货 送达 邮费 包邮',
    },
    page: '/help.html#shipping',
  },
  {
    topic: 'returns',
    title: {
      en: 'Returns and refunds',
      'zh-CN': '退货与退款',
      ar: 'الإرجاع واسترداد المبلغ',
      es: 'Devoluciones y reembolsos',
      fr: 'Retours et remboursements',
      de: 'Rücksendungen und Erstattungen',
      pt: 'Devoluções e reembolsos',
      ja: '返品と返金',
      ko: '반품 및 환불',
      ru: 'Возврат и возмещение',
    },
    answer: {
      en: 'You can return anything within 30 days, free of charge. Start a return from your order page; the refund reaches your original payment method within 5 business days of the parcel arriving back with us.',
      'zh-CN': '30 天内可免费退货。请在订单页面发起退货；退回的包裹到达后 5 个工作日内，退款将原路退回。',
      ar: 'يمكنك إرجاع أي منتج خلال 30 يومًا مجانًا. ابدأ الإرجاع من صفحة طلبك، ويُعاد المبلغ إلى وسيلة الدفع الأصلية خلال 5 أيام عمل من وصول الطرد إلينا.',
      es: 'Puedes devolver cualquier artículo en un plazo de 30 días, sin coste. Inicia la devolución desde la página de tu pedido; el reembolso llega a tu método de pago original en un plazo de 5 días hábiles desde que recibimos el paquete.',
      fr: 'Vous pouvez retourner n’importe quel article sous 30 jours, gratuitement. Lancez le retour depuis la page de votre commande ; le remboursement arrive sur votre moyen de paiement d’origine dans les 5 jours ouvrés suivant la réception du colis.',
      de: 'Sie können alles innerhalb von 30 Tagen kostenlos zurücksenden. Starten Sie die Rücksendung auf Ihrer Bestellseite; die Erstattung geht innerhalb von 5 Werktagen nach Eingang des Pakets bei uns auf Ihr ursprüngliches Zahlungsmittel.',
      pt: 'Você pode devolver qualquer item em até 30 dias, sem custo. Inicie a devolução na página do seu pedido; o reembolso volta para a forma de pagamento original em até 5 dias úteis depois que o pacote chega até nós.',
      ja: 'ご購入から 30 日以内であれば、どの商品も無料で返品いただけます。注文ページから返品手続きを開始してください。返送された商品の到着から 5 営業日以内に、元のお支払い方法へ返金いたします。',
      ko: '모든 상품은 30일 이내에 무료로 반품하실 수 있습니다. 주문 페이지에서 반품을 신청해 주세요. 반송된 상품이 도착한 후 5영업일 이내에 원래 결제 수단으로 환불됩니다.',
      ru: 'Любой товар можно вернуть бесплатно в течение 30 дней. Оформите возврат на странице заказа; деньги вернутся тем же способом оплаты в течение 5 рабочих дней после того, как посылка придёт к нам.',
    },
    terms: {
      en: 'return returns refund money back exchange send back wrong unhappy',
      'zh-CN': '退货 退款 换货 退换 退钱 不满意',
    },
    page: '/help.html#returns',
  },
  {
    topic: 'sizes',
    title: {
      en: 'Sizes and fit',
      'zh-CN': '尺码与合身',
      ar: 'المقاسات والملاءمة',
      es: 'Tallas y ajuste',
      fr: 'Tailles et coupe',
      de: 'Größen und Passform',
      pt: 'Tamanhos e caimento',
      ja: 'サイズとフィット感',
      ko: '사이즈와 핏',
      ru: 'Размеры и посадка',
    },
    answer: {
      en: 'Our shoes run true to size (EU sizes 36–47). Between two sizes? Take the larger one. Jackets follow standard S–XXL; see the size chart on each product page.',
      'zh-CN': '我们的鞋子尺码标准（欧码 36–47）。介于两个尺码之间时，建议选大一码。夹克为标准 S–XXL，详见商品页的尺码表。',
      ar: 'أحذيتنا مطابقة للمقاس المعتاد (المقاسات الأوروبية 36–47). إن كنت بين مقاسين فاختر الأكبر. السترات بالمقاسات القياسية S–XXL؛ راجع جدول المقاسات في صفحة كل منتج.',
      es: 'Nuestras zapatillas tallan normal (tallas europeas 36–47). ¿Dudas entre dos tallas? Elige la mayor. Las chaquetas siguen las tallas estándar S–XXL; consulta la tabla de tallas en la página de cada producto.',
      fr: 'Nos chaussures taillent normalement (pointures européennes 36–47). Entre deux pointures ? Prenez la plus grande. Les vestes suivent les tailles standard S–XXL ; consultez le guide des tailles sur chaque fiche produit.',
      de: 'Unsere Schuhe fallen normal aus (EU-Größen 36–47). Zwischen zwei Größen? Nehmen Sie die größere. Jacken gibt es in den Standardgrößen S–XXL; die Größentabelle finden Sie auf jeder Produktseite.',
      pt: 'Nossos tênis têm numeração padrão (tamanhos europeus 36–47). Ficou entre dois tamanhos? Escolha o maior. As jaquetas seguem os tamanhos padrão S–XXL; veja a tabela de medidas na página de cada produto.',
      ja: '当店のシューズは標準的なサイズ感です（EU サイズ 36–47）。2 つのサイズで迷ったら、大きいほうをお選びください。ジャケットは標準の S–XXL です。各商品ページのサイズ表をご覧ください。',
      ko: '저희 신발은 정사이즈입니다(EU 사이즈 36–47). 두 사이즈 사이에서 고민되신다면 큰 사이즈를 선택하세요. 재킷은 표준 S–XXL 사이즈이며, 각 상품 페이지의 사이즈표를 참고해 주세요.',
      ru: 'Наша обувь соответствует размеру (европейские размеры 36–47). Сомневаетесь между двумя размерами? Берите больший. Куртки — стандартных размеров S–XXL; таблица размеров есть на странице каждого товара.',
    },
    terms: {
      en: 'size sizes sizing fit fits small large big tight chart measure true',
      'zh-CN': '尺码 尺寸 大小 码数 合身 偏大 偏小',
    },
    page: '/help.html#sizes',
  },
  {
    topic: 'order_status',
    title: {
      en: 'Tracking your order',
      'zh-CN': '查询订单',
      ar: 'تتبّع طلبك',
      es: 'Seguimiento del pedido',
      fr: 'Suivre votre commande',
      de: 'Ihre Bestellung verfolgen',
      pt: 'Rastrear seu pedido',
      ja: 'ご注文の追跡',
      ko: '주문 조회',
      ru: 'Отслеживание заказа',
    },
    answer: {
      en: 'Every order gets a tracking link by email as soon as it ships. Tell me your order number, like "order 1001", and I will look up its status.',
      'zh-CN': '订单发货后，您会收到带有物流链接的邮件。告诉我您的订单号，例如「订单 1001」，我来帮您查询状态。',
      ar: 'يصلك رابط لتتبّع كل طلب بالبريد الإلكتروني فور شحنه. أخبرني برقم طلبك، مثل «الطلب 1001»، وسأبحث عن حالته.',
      es: 'Cada pedido recibe un enlace de seguimiento por correo en cuanto sale. Dime tu número de pedido, por ejemplo «pedido 1001», y consulto su estado.',
      fr: 'Chaque commande reçoit un lien de suivi par e-mail dès son expédition. Indiquez-moi votre numéro de commande, par exemple « commande 1001 », et je vérifie son statut.',
      de: 'Zu jeder Bestellung erhalten Sie per E-Mail einen Link zur Sendungsverfolgung, sobald sie verschickt ist. Nennen Sie mir Ihre Bestellnummer, zum Beispiel „Bestellung 1001“, und ich sehe nach dem Status.',
      pt: 'Todo pedido recebe um link de rastreamento por e-mail assim que é enviado. Me diga o número do seu pedido, por exemplo "pedido 1001", e eu verifico o status.',
      ja: 'ご注文が発送されると、追跡リンクをメールでお送りします。「注文 1001」のように注文番号を教えていただければ、状況をお調べします。',
      ko: '모든 주문은 발송되는 즉시 이메일로 배송 조회 링크를 보내 드립니다. "주문 1001"처럼 주문 번호를 알려 주시면 상태를 조회해 드릴게요.',
      ru: 'Как только заказ отправлен, мы присылаем по электронной почте ссылку для отслеживания. Назовите номер заказа, например «заказ 1001», и я проверю его статус.',
    },
    terms: {
      en: 'order track tracking where parcel package status number shipped',
      'zh-CN': '订单 物流 包裹 查询 追踪 单号',
    },
    page: '/help.html#orders',
  },
  {
    topic: 'payment',
    title: {
      en: 'Payment methods',
      'zh-CN': '支付方式',
      ar: 'طرق الدفع',
      es: 'Formas de pago',
      fr: 'Moyens de paiement',
      de: 'Zahlungsarten',
      pt: 'Formas de pagamento',
      ja: 'お支払い方法',
      ko: '결제 수단',
      ru: 'Способы оплаты',
    },
    answer: {
      en: 'We accept Visa, Mastercard, American Express, PayPal and Apple Pay. Your card is charged when the order ships.',
      'zh-CN': '我们接受 Visa、Mastercard、American Express、PayPal 和 Apple Pay。订单发货时才会扣款。',
      ar: 'نقبل بطاقات Visa وMastercard وAmerican Express، بالإضافة إلى PayPal وApple Pay. لا تُخصم قيمة الطلب من بطاقتك إلا عند شحنه.',
      es: 'Aceptamos Visa, Mastercard, American Express, PayPal y Apple Pay. El cargo en tu tarjeta se hace cuando el pedido sale.',
      fr: 'Nous acceptons Visa, Mastercard, American Express, PayPal et Apple Pay. Votre carte est débitée à l’expédition de la commande.',
      de: 'Wir akzeptieren Visa, Mastercard, American Express, PayPal und Apple Pay. Ihre Karte wird erst belastet, wenn die Bestellung versandt wird.',
      pt: 'Aceitamos Visa, Mastercard, American Express, PayPal e Apple Pay. A cobrança no cartão é feita quando o pedido é enviado.',
      ja: 'Visa、Mastercard、American Express、PayPal、Apple Pay をご利用いただけます。カードへの請求はご注文の発送時に行われます。',
      ko: 'Visa, Mastercard, American Express, PayPal, Apple Pay를 이용하실 수 있습니다. 카드 결제는 주문 상품이 발송될 때 청구됩니다.',
      ru: 'Мы принимаем Visa, Mastercard, American Express, PayPal и Apple Pay. Деньги списываются с карты при отправке заказа.',
    },
    terms: {
      en: 'pay payment paypal card credit visa mastercard amex apple charge charged invoice',
      'zh-CN': '支付 付款 信用卡 扣款 发票',
    },
    page: '/help.html#payment',
  },
  {
    topic: 'warranty',
    title: {
      en: 'Warranty and repairs',
      'zh-CN': '保修与维修',
      ar: 'الضمان والإصلاح',
      es: 'Garantía y reparaciones',
      fr: 'Garantie et réparations',
      de: 'Garantie und Reparaturen',
      pt: 'Garantia e reparos',
      ja: '保証と修理',
      ko: '품질 보증 및 수리',
      ru: 'Гарантия и ремонт',
    },
    answer: {
      en: 'Everything we sell has a 2-year warranty against defects in materials and workmanship. If a seam opens or a sole comes loose, send us a photo and we will repair or replace it.',
      'zh-CN': '所有商品均享有 2 年质量保修。如出现开线或鞋底脱胶，请发照片给我们，我们会为您维修或更换。',
      ar: 'جميع منتجاتنا مشمولة بضمان لمدة سنتين ضد عيوب المواد والتصنيع. إذا انفتقت درزة أو انفصل نعل، فأرسل إلينا صورة وسنصلحه أو نستبدله.',
      es: 'Todo lo que vendemos tiene 2 años de garantía frente a defectos de materiales y fabricación. Si se abre una costura o se despega una suela, envíanos una foto y lo repararemos o lo cambiaremos.',
      fr: 'Tout ce que nous vendons est garanti 2 ans contre les défauts de matériaux et de fabrication. Si une couture s’ouvre ou qu’une semelle se décolle, envoyez-nous une photo : nous réparerons ou remplacerons l’article.',
      de: 'Auf alles, was wir verkaufen, gewähren wir 2 Jahre Garantie auf Material- und Verarbeitungsfehler. Geht eine Naht auf oder löst sich eine Sohle, schicken Sie uns ein Foto, und wir reparieren oder ersetzen den Artikel.',
      pt: 'Tudo o que vendemos tem 2 anos de garantia contra defeitos de material e fabricação. Se uma costura abrir ou uma sola descolar, mande uma foto e nós consertamos ou trocamos o produto.',
      ja: '当店の全商品に、素材および縫製の不具合に対する 2 年間の保証が付いています。縫い目がほつれたり、ソールがはがれたりした場合は、写真をお送りください。修理または交換いたします。',
      ko: '판매하는 모든 상품은 소재 및 제작 결함에 대해 2년간 보증됩니다. 솔기가 터지거나 밑창이 떨어지면 사진을 보내 주세요. 수리 또는 교환해 드립니다.',
      ru: 'На все наши товары действует гарантия 2 года на дефекты материалов и изготовления. Если разошёлся шов или отклеилась подошва, пришлите нам фото — мы отремонтируем или заменим товар.',
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

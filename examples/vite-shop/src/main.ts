// A single-page storefront that adds Parley from npm. Route changes tell the chat which
// page and product the visitor is on, so agents see it in their console.
import { mount } from '@parley/widget';

/** `<meta name="parley-site-key" content="…">` in the served page wins over the build-time env. */
const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content || undefined;

const chat = mount({
  siteKey: meta('parley-site-key') ?? import.meta.env.VITE_PARLEY_SITE_KEY ?? 'pk_demo',
  relayUrl: meta('parley-relay-url') ?? import.meta.env.VITE_PARLEY_RELAY_URL ?? 'http://127.0.0.1:8787',
  theme: { primary: '#1d3b2a' },
});

interface Product {
  id: string;
  title: string;
  price: string;
}

const PRODUCTS: Product[] = [
  { id: 'trail-runner-2', title: 'Trail Runner 2', price: '€129.00' },
  { id: 'ridge-shell-jacket', title: 'Ridge Shell Jacket', price: '€189.00' },
];

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;

function link(href: string, label: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = label;
  a.addEventListener('click', (e) => {
    e.preventDefault();
    history.pushState(null, '', href);
    render();
  });
  return a;
}

function render(): void {
  const id = new URLSearchParams(location.search).get('product');
  const product = PRODUCTS.find((p) => p.id === id);
  app.replaceChildren();
  const h1 = document.createElement('h1');
  if (product) {
    h1.textContent = product.title;
    const price = document.createElement('p');
    price.textContent = product.price;
    const ask = document.createElement('button');
    ask.textContent = 'Ask about this product';
    ask.addEventListener('click', () => chat.open());
    app.append(h1, price, ask);
    document.title = `${product.title} — Trailhead`;
    chat.product({ id: product.id, title: product.title, price: product.price, url: location.href });
  } else {
    h1.textContent = 'All products';
    app.append(h1, ...PRODUCTS.map((p) => link(`?product=${p.id}`, `${p.title} (${p.price})`)));
    document.title = 'Trailhead — Vite storefront';
  }
  chat.context({ url: location.href, title: document.title });
}

nav.append(link('/', 'Shop'));
window.addEventListener('popstate', render);
render();

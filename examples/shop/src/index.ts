export { startShop, strictCsp, type Shop, type ShopOptions } from './server.js';
export { startDemo, type Demo, type DemoOptions } from './demo.js';

// Entry of dist/loader.js, the snippet merchants include with a script tag.
import { install } from './loader.js';

install(window, document.currentScript as HTMLScriptElement | null);

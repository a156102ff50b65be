export { mount } from './mount.js';
export type { MountOptions, Theme, WidgetEvents, WidgetHandle } from './options.js';

/**
 * On phones the panel fills the *visual* viewport, so the on-screen keyboard pushes the
 * composer up instead of covering it. Tracks until `on.signal` aborts.
 */
export function trackViewport(host: HTMLElement, on: AddEventListenerOptions): void {
  const vv = window.visualViewport;
  if (!vv) return;
  const update = () => {
    host.style.setProperty('--parley-vh', `${vv.height}px`);
    host.style.setProperty('--parley-vt', `${vv.offsetTop}px`);
  };
  update();
  vv.addEventListener('resize', update, on);
  vv.addEventListener('scroll', update, on);
}

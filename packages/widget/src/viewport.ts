/**
 * On phones the panel fills the *visual* viewport, so the on-screen keyboard pushes the
 * composer up instead of covering it. Returns the function that stops tracking.
 */
export function trackViewport(host: HTMLElement): () => void {
  const vv = window.visualViewport;
  if (!vv) return () => {};
  const update = () => {
    host.style.setProperty('--parley-vh', `${vv.height}px`);
    host.style.setProperty('--parley-vt', `${vv.offsetTop}px`);
  };
  update();
  vv.addEventListener('resize', update);
  vv.addEventListener('scroll', update);
  return () => {
    vv.removeEventListener('resize', update);
    vv.removeEventListener('scroll', update);
  };
}

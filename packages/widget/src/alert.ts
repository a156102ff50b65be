// The page-level alerts of a message that arrives unseen: a beep and a flashing title. Part of
// the extras (loaded on the first alert); the audio context is the bundle's (notify.ts), made
// during a user gesture.

/** A 150 ms soft beep on `audio`; no audio file. */
export function tone(audio: AudioContext): void {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.05;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.15);
}

let timer: ReturnType<typeof setInterval> | undefined;
let saved = '';

/** Flash `document.title` with `text` while the page is hidden, until `unflash`. */
export function flash(text: string): void {
  if (!document.hidden || timer) return;
  saved = document.title;
  const flip = () => (document.title = document.title === saved ? text : saved);
  flip();
  timer = setInterval(flip, 1000);
}

/** Stop flashing and put the page's own title back (the page is shown again). */
export function unflash(): void {
  if (!timer) return;
  clearInterval(timer);
  timer = undefined;
  document.title = saved;
}

let audio: AudioContext | undefined;

/** Create the audio context during a user gesture (browsers keep it suspended otherwise). */
export function primeAudio(): void {
  try {
    audio ??= new AudioContext();
    void audio.resume();
  } catch {
    // no Web Audio: no sound
  }
}

/** A 150 ms soft beep; no audio file. */
export function beep(): void {
  if (!audio) return;
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.05;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.15);
}

/**
 * Flash `document.title` with `text` while the page is hidden; the page's own title
 * comes back when it is shown again. Returns `{ flash, stop }`.
 */
export function titleFlasher(text: string, intervalMs = 1000) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let saved = '';
  const stop = () => {
    if (!timer) return;
    clearInterval(timer);
    timer = undefined;
    document.title = saved;
  };
  const onVisible = () => !document.hidden && stop();
  document.addEventListener('visibilitychange', onVisible);
  return {
    flash() {
      if (!document.hidden || timer) return;
      saved = document.title;
      const flip = () => (document.title = document.title === saved ? text : saved);
      flip();
      timer = setInterval(flip, intervalMs);
    },
    stop() {
      stop();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

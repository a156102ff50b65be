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

/**
 * A 150 ms soft beep; no audio file. Once the visitor has clicked or typed on the page, browsers
 * let it start sound: the audio context is made then if no gesture on the widget made it.
 */
export function beep(): void {
  if (navigator.userActivation?.hasBeenActive) primeAudio();
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
 * Flash `document.title` with the text given to `flash` while the page is hidden, until `stop`
 * (called when the page is shown again) puts the page's own title back.
 */
export function titleFlasher(intervalMs = 1000) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let saved = '';
  return {
    flash(text: string) {
      if (!document.hidden || timer) return;
      saved = document.title;
      const flip = () => (document.title = document.title === saved ? text : saved);
      flip();
      timer = setInterval(flip, intervalMs);
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      document.title = saved;
    },
  };
}

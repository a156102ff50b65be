import { withExtras } from './lazy.js';

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
 * A soft beep (the extras' `tone`). Once the visitor has clicked or typed on the page, browsers
 * let it start sound: the audio context is made then if no gesture on the widget made it.
 */
export function beep(): void {
  if (navigator.userActivation?.hasBeenActive) primeAudio();
  const a = audio;
  if (a) withExtras((x) => x.tone(a));
}

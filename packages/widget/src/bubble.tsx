import type { Greeting } from '@parley/protocol';
import { Buttons } from './message-body.js';
import type { View } from './view.js';

/**
 * The bubble over the closed launcher: a proactive message, or one that arrived while the panel
 * was closed. Showing it opens no socket; a tap on its text or on a quick reply is the intent
 * that opens the panel (and the socket), the quick reply sent as the visitor's postback first.
 */
export function Bubble({ v, b }: { v: View; b: Greeting }) {
  return (
    <div class="bb" role="status">
      {/* A click on the text or a quick reply reaches this listener after the reply's own. */}
      <div onClick={v.toggle}>
        <button class="bt">{b.text}</button>
        {b.quickReplies[0] && <Buttons v={v} buttons={b.quickReplies} />}
      </div>
      <button class="cl" aria-label={v.t.dismiss} onClick={() => v.set({ b: undefined, g: undefined })}>
        ×
      </button>
    </div>
  );
}

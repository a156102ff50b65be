// How the demo AI's answer reaches the visitor: a word at a time, at the pace of a model
// writing it. A merchant's model SDK yields such chunks itself; the relay shows them as they come.

const segmenter = new Intl.Segmenter('zh', { granularity: 'word' });

/**
 * The text cut into words, each with the spaces and punctuation after it; joined they give the
 * text back exactly. Chinese, written without spaces, is cut by the platform's word segmenter.
 */
export function wordsOf(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let hasWord = false;
  for (const { segment, isWordLike } of segmenter.segment(text)) {
    // A word, or a sign after a space ("€50"), starts the next piece.
    if (hasWord && (isWordLike || (/\s$/.test(current) && /\S/.test(segment)))) {
      words.push(current);
      current = '';
      hasWord = false;
    }
    current += segment;
    if (isWordLike) hasWord = true;
  }
  if (current) words.push(current);
  return words;
}

/**
 * Yield the words of `text`, the first at once and then one every `wordMs`. When `signal`
 * aborts, throws its reason: a consumer that streams the words gives the answer up, rather
 * than finishing it half-written.
 */
export async function* paceWords(text: string, wordMs: number, signal?: AbortSignal): AsyncGenerator<string> {
  const words = wordsOf(text);
  for (let i = 0; i < words.length; i++) {
    signal?.throwIfAborted();
    if (i > 0 && wordMs > 0) await sleep(wordMs, signal);
    signal?.throwIfAborted();
    yield words[i]!;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// A streamed chat completion from any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, a local
// Ollama or vLLM, …) with plain `fetch`: `POST {baseUrl}/chat/completions` with `stream: true`
// answers server-sent events, one JSON chunk per `data:` line, ended by `data: [DONE]`.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatStreamOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** The API base, up to `/v1`. Default `https://api.openai.com/v1`. */
  baseUrl?: string;
  model: string;
  messages: ChatMessage[];
  /** Aborts the request and the stream. */
  signal?: AbortSignal;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** One `data:` chunk of the stream, as far as it matters here. */
interface CompletionChunk {
  choices?: Array<{ delta?: { content?: string | null } }>;
  error?: { message?: string };
}

/**
 * The text of a streamed chat completion, chunk by chunk. Throws when the endpoint refuses the
 * request, sends an error, or the stream ends before `[DONE]` (a connection cut mid-answer).
 * Nothing is requested until the first chunk is asked for.
 */
export async function* chatCompletionText(options: ChatStreamOptions): AsyncGenerator<string> {
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ model: options.model, messages: options.messages, stream: true }),
    signal: options.signal,
  });
  if (!res.ok || !res.body) {
    const detail = (await res.text().catch(() => '')).slice(0, 300);
    throw new Error(`The model endpoint answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
          continue;
        }
        // Comments (`: keep-alive`) and other fields are skipped; a blank line ends an event.
        if (line !== '' || data.length === 0) continue;
        const payload = data.join('\n');
        data = [];
        if (payload === '[DONE]') return;
        const chunk = JSON.parse(payload) as CompletionChunk;
        if (chunk.error) throw new Error(`The model endpoint sent an error: ${chunk.error.message ?? 'unknown'}`);
        const text = chunk.choices?.[0]?.delta?.content;
        if (text) yield text;
      }
    }
    throw new Error('The model stream ended before [DONE].');
  } finally {
    void reader.cancel().catch(() => {});
  }
}

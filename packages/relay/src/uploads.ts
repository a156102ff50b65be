import type { FastifyBaseLogger } from 'fastify';
import {
  mimeAllowed,
  type ErrorCode,
  type ErrorFrame,
  type FileBody,
  type UploadFrame,
  type UploadTarget,
  type UploadTargetFrame,
  type WebhookEvent,
  type WebhookReply,
} from '@parley/protocol';
import type { BackendSockets } from './backend-socket.js';
import { isSecureUploadUrl, type SiteConfig, type UploadsConfig } from './config.js';
import { makeJob } from './engine/shared.js';
import type { Engine, JobError } from './engine/types.js';
import { errorFrame } from './errors.js';
import { newId } from './ids.js';

export interface UploadsOptions {
  engine: Pick<Engine, 'getConversation'>;
  /** The backend socket a conversation's events go to on this instance, if any. */
  sockets: Pick<BackendSockets, 'pick'>;
  /** POST an event once as a webhook and return the reply (the webhook worker's `ask`). */
  ask: (site: SiteConfig, event: WebhookEvent, timeoutMs: number) => Promise<{ ok: true; reply?: WebhookReply } | { ok: false; error: JobError }>;
  now: () => number;
  log: FastifyBaseLogger;
}

/**
 * Why a file the visitor picked is refused by the site's allowance, if it is: no `uploads` at
 * all, too large, or of a type none of `uploads.types` fits.
 */
export function refuseFile(uploads: UploadsConfig | undefined, file: { size: number; mime: string }): ErrorCode | undefined {
  if (!uploads) return 'UPLOAD_REFUSED';
  if (file.size > uploads.maxBytes) return 'UPLOAD_TOO_LARGE';
  if (!mimeAllowed(file.mime, uploads.types)) return 'UPLOAD_TYPE';
  return undefined;
}

/** Whether `url` is on one of the upload hosts: https (http on a loopback host), with an allowed origin. */
function onUploadHost(uploads: UploadsConfig, url: string): boolean {
  return isSecureUploadUrl(url) && uploads.hosts.includes(new URL(url).origin);
}

/**
 * Why a visitor's `file` message is refused, if it is: the site's allowance, and a URL on one of
 * its upload hosts (so a visitor cannot make the agent's console load a file from anywhere).
 */
export function refuseFileMessage(uploads: UploadsConfig | undefined, body: FileBody): ErrorCode | undefined {
  const refused = refuseFile(uploads, body);
  if (refused || !uploads) return refused ?? 'UPLOAD_REFUSED';
  return onUploadHost(uploads, body.url) ? undefined : 'UPLOAD_REFUSED';
}

/** `{name, value}` pairs of a record, in its order. */
const pairs = (record: Record<string, string> | undefined) => record && Object.entries(record).map(([name, value]) => ({ name, value }));

/**
 * Upload targets for visitors: the relay never holds a file's bytes. A visitor's `upload` frame is
 * checked against the site's `uploads` allowance, then the site's backend is asked, once and
 * within `uploads.timeoutMs`, with an `upload.requested` event: over the conversation's backend
 * socket when one is connected to this instance, else as a signed webhook whose 2xx answer carries
 * the target. The target's URL and file URL must be on `uploads.hosts`. Never queued nor retried:
 * the visitor is waiting, and may simply try again.
 */
export class Uploads {
  constructor(private readonly o: UploadsOptions) {}

  /** The answer to a visitor's `upload` frame: where to upload, or an error frame naming it. Never throws. */
  async target(site: SiteConfig, conversationId: string, frame: UploadFrame): Promise<UploadTargetFrame | ErrorFrame> {
    const refuse = (code: ErrorCode, message?: string) => errorFrame(code, message, frame.id);
    const uploads = site.uploads;
    const refused = refuseFile(uploads, frame);
    if (refused || !uploads) return refuse(refused ?? 'UPLOAD_REFUSED');
    let result: { ok: true; reply?: WebhookReply } | { ok: false; error: JobError };
    try {
      const conversation = await this.o.engine.getConversation(conversationId);
      if (!conversation) return refuse('UPLOAD_UNAVAILABLE');
      const data = { name: frame.name, size: frame.size, mime: frame.mime };
      const event = makeJob(conversation, newId('evt_'), 'upload.requested', data, this.o.now()).event;
      result = await this.ask(site, conversationId, event, uploads.timeoutMs);
    } catch (err) {
      this.o.log.warn({ err, conversationId }, 'asking the backend for an upload target failed');
      return refuse('UPLOAD_UNAVAILABLE');
    }
    if (!result.ok) {
      this.o.log.warn({ conversationId, code: result.error.code, problem: result.error.message }, 'the backend gave no upload target');
      return refuse('UPLOAD_UNAVAILABLE');
    }
    const target = result.reply?.upload;
    if (!target) return refuse('UPLOAD_REFUSED', 'The backend declined the upload.');
    const offHost = [target.url, target.fileUrl].find((url) => !onUploadHost(uploads, url));
    if (offHost !== undefined) {
      // A backend or config mistake, for the operator to see; the visitor only learns it was refused.
      this.o.log.warn({ conversationId, origin: originOf(offHost), hosts: uploads.hosts }, 'upload target refused: not https on one of uploads.hosts');
      return refuse('UPLOAD_REFUSED');
    }
    return answer(frame.id, target, uploads);
  }

  /** Ask over the conversation's backend socket on this instance, else by webhook. */
  private async ask(site: SiteConfig, conversationId: string, event: WebhookEvent, timeoutMs: number): Promise<{ ok: true; reply?: WebhookReply } | { ok: false; error: JobError }> {
    const link = site.backendSocket === 'off' ? undefined : this.o.sockets.pick(site.siteKey, conversationId);
    if (link) {
      const outcome = await link.deliver(event, timeoutMs);
      if (outcome.acked) return { ok: true, reply: outcome.reply };
      return { ok: false, error: { code: outcome.why === 'closed' ? 'BACKEND_SOCKET_CLOSED' : 'BACKEND_SOCKET_TIMEOUT', message: `The backend socket ${outcome.why === 'closed' ? 'closed' : 'did not ack in time'}.` } };
    }
    if (site.backendSocket === 'only' || !site.webhookUrl) return { ok: false, error: { code: 'BACKEND_SOCKET_ABSENT', message: 'No backend socket is connected.' } };
    return this.o.ask(site, event, timeoutMs);
  }
}

/** The widget's `upload` answer: the target, with the allowance of the site and its backend together. */
function answer(id: string, target: UploadTarget, uploads: UploadsConfig): UploadTargetFrame {
  const frame: UploadTargetFrame = {
    t: 'upload',
    id,
    url: target.url,
    method: target.method,
    fileUrl: target.fileUrl,
    maxBytes: Math.min(uploads.maxBytes, target.maxBytes ?? Infinity),
    types: target.types ?? uploads.types,
  };
  const fields = pairs(target.fields);
  const headers = pairs(target.headers);
  if (fields) frame.fields = fields;
  if (headers) frame.headers = headers;
  return frame;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

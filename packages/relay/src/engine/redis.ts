/**
 * The Redis engine: several relay instances behind any load balancer share one Redis server.
 *
 * Every change the contract calls atomic is one Lua script, so no reader (on any instance) ever
 * sees half of it and a crash leaves nothing half done: Redis runs a script to its end before any
 * other command, and replicates and persists its effects as one unit. Scripts build their JSON by
 * concatenation (never a cjson round trip, which mangles large numbers and empty objects): the
 * TypeScript side passes the JSON of what it knows, without the opening `{`, and the script writes
 * the fields only it knows (seq, ts, visitor, context) in front.
 *
 * Needs Redis ≥ 6.2 (XADD MINID, exclusive XRANGE) and a single primary (standalone, or with
 * replicas/Sentinel), not Redis Cluster: the scripts reach keys of several conversations. Set
 * `maxmemory-policy noeviction` (an evicted key is lost state). Durability is the operator's
 * setting: with `appendonly yes` and `appendfsync always` an acked append survives a Redis crash
 * or restart (each reply is sent after the AOF write is fsynced); with `everysec`, up to a second
 * of acked writes can be lost on power loss; with RDB snapshots only, everything since the last
 * snapshot.
 *
 * Keys (`P` is the prefix, `parley:` by default; ids and site keys as given):
 *
 * - `P conv:<id>` hash, one conversation: `site`, `owner` (owner key), `vid` (visitor id), `at`
 *   (createdAt), `st` (started 0/1), `cl` (closed 0/1), `ctx` (context JSON), `idn` (identity JSON,
 *   empty when none), `rs` (readSeq), `pr` (peerReadSeq; absent while 0), `ls` (lastSeq), `ver` (context version, for mergeContext's
 *   compare-and-set), `n` (creation number), `act` (last activity: creation or last append), `age`
 *   (maxAgeMs of the last append; absent before the first one), `old` (a time at or before the log's
 *   oldest entry, as an append last found it: while it is younger than the max age, an append
 *   neither reads the log's head for expired entries nor moves the conversation's sweep time). The webhook `visitor` object is
 *   built from `vid` and `idn` inside the scripts, so it is never stored twice.
 * - `P log:<id>` stream, the conversation's log: one stream entry per log entry, with the explicit
 *   stream id `<seq>-<ts>` and one field `e` holding the entry JSON. A stream is a radix tree of
 *   listpacks: compact (ids are delta-encoded, the field name is stored once per node), and a read
 *   by seq is a native range (`XRANGE log <after+1> + COUNT n`). Putting `ts` in the id's second
 *   half lets retention by age read entry times without decoding any JSON.
 * - `P ids:<id>` hash, entry id → `<seq>:<ts>` for the last `dedupeWindow(retention)` appends
 *   (and up to DEDUPE_SLACK older ones, which a lookup ignores).
 * - `P idq:<id>` list of the same entry ids in append order (one per append): the oldest leave,
 *   DEDUPE_SLACK or more at once, once the list is that much longer than the window. Cheaper than
 *   a sorted set (no skiplist node per id).
 * - `P owner:<site>:<ownerKey>` string: the owner's current conversation id.
 * - `P own:<site>:<ownerKey>` sorted set, every conversation of the owner (`ownerConversations`),
 *   scored and named as in `site:`. Kept by the scripts that open, adopt and forget conversations;
 *   conversations opened before it existed (an older relay) are not in it.
 * - `P site:<site>` sorted set, the site's conversations for `listConversations`: score createdAt,
 *   member `<n, 12 digits>:<id>` (so ties list the later creation first). A list cursor names a
 *   position in it, (score, member), so a page is found by rank, never by walking the set.
 * - `P sweep` sorted set, every stored conversation once (its size is `countConversations`):
 *   score = when the sweep must look at it next (its oldest entry expires, or it may be forgotten).
 * - `P nconv` counter behind `n`.
 * - `P q:<conversationId>` list of the conversation's queued webhook job ids, first in first out.
 * - `P job:<jobId>` hash, one job: `ev` (event JSON), `site`, `conv`, `att` (attempts), `enq`
 *   (enqueuedAt), `due` (dueAt), `first`/`last` (attempt times), `err` (last error JSON), `lease`
 *   and `until` (lease token and expiry, while leased), `n` (place in the global enqueue order).
 * - `P jobs:waiting` sorted set: conversations whose first job is not known to be claimable, scored
 *   by when it becomes claimable (its dueAt, or leaseUntil while leased).
 * - `P jobs:due` sorted set: conversations whose first job is claimable, scored by that job's `n`.
 * - `P jobs:dueMin` string: a time at or before which every conversation in `jobs:due` became
 *   claimable (for `nextWebhookAt`); deleted whenever `jobs:due` empties.
 * - `P jobseq` counter behind the jobs' `n`.
 * - `P dead:<site>` list of the site's dead letters (JSON), oldest first, at most `maxDeadLetters`.
 * - `P st:<conversationId>:<messageId>` hash, one open streamed answer: `from` (sender JSON), `tx`
 *   (the text so far), `len` (its length in UTF-16 code units), `at` (started), `up` (last step).
 * - `P sts:<conversationId>` set of the conversation's open stream ids.
 * - `P stalls` sorted set of every open stream, `<conversationId>:<messageId>`, scored by its last
 *   step: the stall sweep reads it from the oldest.
 *   A step renews the TTL (`keepMs`, a few stall windows) of the stream's hash and of its `sts:`
 *   set, so a stream no relay is left to close expires; readers drop index members whose hash is gone.
 * - `P fb:<conversationId>` sorted set of the job ids of the conversation's last feedbacks (dedupe),
 *   scored by time, at most `FEEDBACK_DEDUPE`.
 * - `P online` hash, site key → 0/1.
 * - `P tb:<key>` hash, a token bucket (`t` tokens, `at` ms); it expires when it would be full again.
 * - `P slots:<key>` hash, the slots of `acquireSlot` (`conn:<ip>`: open widget sockets per address):
 *   field = instance id, value = the slots that instance holds. An acquire drops the fields of
 *   instances whose `instance:` key is gone, sums the rest and refuses at the cap; a release
 *   decrements (the field goes at 0, the key with its last field). Its TTL (`instanceTtlMs`) is
 *   renewed by every acquire and by the heartbeat of each instance holding a slot in it, so a key
 *   that only dead instances held vanishes.
 * - `P instance:<id>` string, the liveness of one relay instance (id random per `start()`): set by
 *   its acquires and `ls:` registrations with a TTL of `instanceTtlMs`, renewed every third of it,
 *   and deleted by `close()`. After a kill -9 it lapses, and the next acquire of each key drops that
 *   instance's slots, the next append of each conversation its `ls:` registration.
 * - `P ls:<conversationId>` set, the instances with listeners of the conversation's channel here
 *   (registered with the SUBSCRIBE, removed with the UNSUBSCRIBE and by `close()`). An append
 *   publishes its entry only when an instance other than its own is in it: the appending
 *   instance's own listeners get the entry from the reply.
 *
 * Pub/sub channels: `P c:<conversationId>` (stored entries, published by the append and stream-end
 * scripts, drafts, published by the stream scripts in the order their steps ran, and transient items) and `P s:<siteKey>` (site items).
 * An entry appended here reaches this instance's listeners from the append's reply, and its
 * published copy, which comes back on the subscriber connection before or after the reply, is
 * handed on to none of them a second time (`Topic`).
 *
 * The webhook queue gives strict order per conversation across instances because only the first
 * job of a conversation's list can be claimed, and it leaves the list only by `complete` or
 * `deadLetter` with its current lease token; a retry keeps it first. A conversation is in exactly
 * one of `jobs:waiting` (by time) or `jobs:due` (by enqueue order): a claim moves the conversations
 * whose time came from the first to the second, then leases the oldest first jobs of `jobs:due` and
 * moves their conversations back to `jobs:waiting`, scored by lease expiry. A job queued first in its
 * conversation files it into `jobs:due` at once, and settling a job files its conversation by the
 * next one, into `jobs:due` too when that one is claimable already; the sets change by a few
 * commands per script call (ZPOPMIN, ZADD and ZREM of many members), not per job. Redis stream consumer
 * groups cannot give this: they hand out entries of one stream to any consumer in parallel, with no
 * way to hold back a conversation's later events while its first one is retried.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DeadLetter, HistoryResponse, LogEntry, Sender, VisitorContext, WebhookEvent } from '@parley/protocol';
import { Redis, type RedisOptions } from 'ioredis';
import { newId } from '../ids.js';
import { MAX_STREAM_LENGTH, NOTHING_ARRIVED, encodeListCursor, identifiedJobId, listPositionOf, mergeContextValue, pageLimit, webhookJobId } from './shared.js';
import {
  EngineUnavailableError,
  FEEDBACK_DEDUPE,
  PREVIEW_SCAN,
  conversationTopic,
  dedupeWindow,
  isEngineUnavailable,
  topicOf,
  type AdoptRequest,
  type AdoptResult,
  type AppendRequest,
  type AppendResult,
  type ClaimedJob,
  type Conversation,
  type ConversationIdentity,
  type ConversationPage,
  type Engine,
  type FanoutItem,
  type FeedbackRequest,
  type FeedbackResult,
  type JobError,
  type ListRequest,
  type MergeResult,
  type MessageEntry,
  type OpenRequest,
  type OpenResult,
  type OwnedConversation,
  type Rate,
  type StreamDeltaRequest,
  type StreamDeltaResult,
  type StreamEndRequest,
  type StreamEndResult,
  type StreamRef,
  type StreamSnapshot,
  type StreamStartRequest,
  type StreamStartResult,
  type TransientItem,
} from './types.js';

export interface RedisEngineOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every key and channel, so several relays (or tests) can share a server. Default `parley:`. */
  prefix?: string;
  /**
   * The engine's clock (ms), for tests. Default: the Redis server's clock (`TIME` inside the
   * scripts), so every instance stamps entries, due times and leases by one clock.
   */
  now?: () => number;
  /** Dead letters kept per site (the oldest go first). Default 1000. */
  maxDeadLetters?: number;
  /** Called with what a fan-out listener threw; delivery to the other listeners goes on. Default: ignored. */
  onListenerError?: (error: unknown) => void;
  /** Called with connection errors; the engine reconnects by itself. Default: ignored. */
  onError?: (error: unknown) => void;
  /** How long `start()` waits for each connection. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** A command without an answer this long fails with `EngineUnavailableError`. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** A conversation that never got an entry is forgotten this long after it was opened. Default 24 h. */
  emptyConversationTtlMs?: number;
  /** How often expired entries and idle conversations are swept. Default 60 s. */
  sweepIntervalMs?: number;
  /**
   * How long the slots of an instance that stopped without giving them back (kill -9, lost network)
   * keep counting: its liveness key lives this long and is renewed every third of it. Real time,
   * not the engine clock; every instance on a prefix should use the same value. Default 30 000 ms.
   */
  instanceTtlMs?: number;
}

/** Conversations one sweep script handles, so no script holds the server for long. */
const SWEEP_BATCH = 200;
/** Conversations a claim moves from waiting to due at most, for the same reason. */
const PROMOTE_BATCH = 1000;
/** The most webhook completions one script call settles. */
const COMPLETE_BATCH = 256;
/** Entry ids the dedupe index may hold past its window before they leave, all at once. */
const DEDUPE_SLACK = 64;
/** Idle entries (no append in flight) the engine's count of appends in flight drops at once. */
const APPENDING_IDLE = 4096;
/** The most appends one script call makes. */
const APPEND_BATCH = 64;
/** The fields of each append in the append script. */
const APPEND_ARGS = 10;
/**
 * Joins the fields of one append into one script argument: a control character, which no id holds
 * and JSON.stringify always escapes inside a string.
 */
const FIELD_SEPARATOR = '\x1f';
/** Slot keys one heartbeat script renews at most. */
const HEARTBEAT_BATCH = 500;
/** Optimistic merges of one conversation tried before giving up. */
const MERGE_TRIES = 20;
/** Redis replies that mean "not now, nothing changed": the caller may retry. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF|OOM)\b/;

// ---- Lua ----

/**
 * Shared by every script. ARGV[1] is the key prefix, ARGV[2] the time in ms or '' for the server's.
 * Numbers are written with %.0f: Lua's default formatting turns large integers into exponents.
 */
const PRELUDE = `
local P = ARGV[1]
local function n2s(x) return string.format('%.0f', x) end
-- FIELD_SEPARATOR: joins the fields of one argument (an append) or of one reply item (a claimed job).
local SEP = '\\${FIELD_SEPARATOR.charCodeAt(0)}'
-- The fields of one argument that holds several, joined by SEP (none of them holds it).
local function fields(s)
  local t, pos = {}, 1
  while true do
    local e = string.find(s, SEP, pos, true)
    if not e then
      t[#t + 1] = string.sub(s, pos)
      return t
    end
    t[#t + 1] = string.sub(s, pos, e - 1)
    pos = e + 1
  end
end
-- The id of the webhook job an entry causes, as webhookJobId (engine/shared.ts) derives it.
local function job_id(conv, entry_id, type) return 'evt_' .. string.sub(redis.sha1hex(conv .. '\\n' .. entry_id .. '\\n' .. type), 1, 24) end
local function clock()
  if ARGV[2] ~= '' then return tonumber(ARGV[2]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local WAITING, DUE, DUEMIN = P .. 'jobs:waiting', P .. 'jobs:due', P .. 'jobs:dueMin'

local function visitor(vid, idn, rs)
  local v = '{"id":' .. cjson.encode(vid)
  if idn and idn ~= '' then v = v .. ',"identity":' .. idn end
  return v .. ',"readSeq":' .. (rs or '0') .. '}'
end

-- Keep DUEMIN after conversations went into DUE (low: the earliest time one of them became
-- claimable, or nil when none did) or left it.
local function due_min(low)
  if low then
    local cur = redis.call('GET', DUEMIN)
    if not cur or low < tonumber(cur) then redis.call('SET', DUEMIN, n2s(low)) end
  elseif redis.call('ZCARD', DUE) == 0 then
    redis.call('DEL', DUEMIN)
  end
end

-- Queue a job at the end of its conversation's list (an id already queued is left alone); true when
-- it is the list's first, which is claimable at once: its conversation goes straight into DUE.
local function enqueue(id, conv, site, event, now)
  local jk = P .. 'job:' .. id
  if redis.call('EXISTS', jk) == 1 then return false end
  local n = redis.call('INCR', P .. 'jobseq')
  local nows = n2s(now)
  redis.call('HSET', jk, 'ev', event, 'site', site, 'conv', conv, 'att', 0, 'enq', nows, 'due', nows, 'n', n)
  if redis.call('RPUSH', P .. 'q:' .. conv, id) == 1 then
    redis.call('ZADD', DUE, n, conv)
    due_min(now)
    return true
  end
  return false
end

-- Drop the first job of a conversation (the leased one) and note in filing how the conversation is
-- to be filed by its next job (see file_all): into DUE when that one is claimable already (the usual
-- case: it was queued behind the one dropped), into WAITING by its due time, or out of both.
local function pop_head(id, conv, now, filing)
  local qk = P .. 'q:' .. conv
  redis.call('LPOP', qk)
  redis.call('DEL', P .. 'job:' .. id)
  local nxt = redis.call('LINDEX', qk, 0)
  if not nxt then
    filing[conv] = false
    return
  end
  local j = redis.call('HMGET', P .. 'job:' .. nxt, 'due', 'n')
  local due = tonumber(j[1]) or now
  if due <= now then
    filing[conv] = {DUE, j[2] or 0, due}
  else
    filing[conv] = {WAITING, n2s(due)}
  end
end

-- File the conversations noted in filing (by pop_head, or a claim), a few commands for all of
-- them. Returns the earliest time one that went into DUE became claimable (for due_min), or nil.
local function file_all(filing)
  local into = {[DUE] = {}, [WAITING] = {}}
  local out = {[DUE] = {}, [WAITING] = {}}
  local low = nil
  for conv, f in pairs(filing) do
    if f then
      local set, other = f[1], WAITING
      if set == WAITING then other = DUE end
      table.insert(into[set], f[2])
      table.insert(into[set], conv)
      table.insert(out[other], conv)
      if f[3] and (not low or f[3] < low) then low = f[3] end
    else
      table.insert(out[DUE], conv)
      table.insert(out[WAITING], conv)
    end
  end
  for _, set in ipairs({DUE, WAITING}) do
    if #out[set] > 0 then redis.call('ZREM', set, unpack(out[set])) end
    if #into[set] > 0 then redis.call('ZADD', set, unpack(into[set])) end
  end
  return low
end

-- The job leased with this token, as {conv}, or nil.
local function leased(id, token)
  local j = redis.call('HMGET', P .. 'job:' .. id, 'lease', 'conv')
  if not j[1] or j[1] ~= token then return nil end
  return j[2]
end

-- A log entry's stream id is <seq>-<ts>.
local function id_ts(sid) return tonumber(string.match(sid, '%-(%d+)$')) end
local function id_seq(sid) return tonumber(string.match(sid, '^(%d+)')) end

-- The id of the first entry from the head whose ts >= cutoff (nil when none), and whether older ones precede it.
local function first_young(lk, cutoff)
  local start, count, skipped = '-', 1, false
  while true do
    local batch = redis.call('XRANGE', lk, start, '+', 'COUNT', count)
    if #batch == 0 then return nil, skipped end
    for _, e in ipairs(batch) do
      if id_ts(e[1]) >= cutoff then return e[1], skipped end
      skipped = true
    end
    start = '(' .. batch[#batch][1]
    count = 64
  end
end

-- Drop the entries at the head of the log older than cutoff; the ts of the first kept one, or nil.
local function trim_age(lk, cutoff)
  local keep, skipped = first_young(lk, cutoff)
  if not keep then
    if skipped then redis.call('XTRIM', lk, 'MAXLEN', 0) end
    return nil
  end
  if skipped then redis.call('XTRIM', lk, 'MINID', keep) end
  return id_ts(keep)
end

local function site_member(n, id) return string.format('%012d', tonumber(n)) .. ':' .. id end

-- An entry id appended within the dedupe window: {seq, ts, entry JSON or false when trimmed}; nil otherwise.
local function seen_entry(id, entry_id, last, window)
  local seen = redis.call('HGET', P .. 'ids:' .. id, entry_id)
  if not seen then return nil end
  local sseq, sts = string.match(seen, '^(%d+):(%d+)$')
  if tonumber(sseq) <= last - window then return nil end
  local got = redis.call('XRANGE', P .. 'log:' .. id, sseq, sseq, 'COUNT', 1)
  local json = false
  if got[1] then json = got[1][2][2] end
  return {sseq, sts, json}
end

-- Write a new entry at seq last + 1 (rest: its JSON without '{' and without seq/ts): the log with
-- retention, and the dedupe index. old and age: the conversation's fields of those names (nil when
-- absent). Returns seq and ts as strings, the JSON, the oldest kept ts, and whether that oldest ts
-- and maxAge are the ones the conversation's sweep time was last set from (it stands as it is).
local function write_entry(id, last, now, entry_id, rest, maxMessages, maxAge, window, old, age)
  local lk, ik, qk = P .. 'log:' .. id, P .. 'ids:' .. id, P .. 'idq:' .. id
  local seq = last + 1
  local seqs, tss = n2s(seq), n2s(now)
  local json = '{"seq":' .. seqs .. ',"ts":' .. tss .. ',' .. rest
  if seq > maxMessages then
    redis.call('XADD', lk, 'MINID', n2s(seq - maxMessages + 1), seqs .. '-' .. tss, 'e', json)
  else
    redis.call('XADD', lk, seqs .. '-' .. tss, 'e', json)
  end
  -- old is at or before the log's oldest entry (entries leave from the head only, and a sweep that
  -- drops some leaves old as it is): while old is young enough and no entry left by count, no
  -- entry is old enough to drop, and the log need not be read.
  local oldest, same = tonumber(old), false
  if seq > 1 and seq <= maxMessages and oldest and age == n2s(maxAge) and oldest >= now - maxAge then
    same = true
  else
    oldest = trim_age(lk, now - maxAge)
  end
  redis.call('HSET', ik, entry_id, seqs .. ':' .. tss)
  -- The ids past the window leave in bunches of DEDUPE_SLACK or more (three commands for the
  -- bunch, not for each append); one still in the window (the window grew) stays in the index.
  local len = redis.call('RPUSH', qk, entry_id)
  if len > window + ${DEDUPE_SLACK} then
    local gone = redis.call('LPOP', qk, math.min(len - window, 1000))
    local seen = redis.call('HMGET', ik, unpack(gone))
    local drop = {}
    for i = 1, #gone do
      local v = seen[i]
      if v and tonumber(string.match(v, '^(%d+)')) <= seq - window then drop[#drop + 1] = gone[i] end
    end
    if #drop > 0 then redis.call('HDEL', ik, unpack(drop)) end
  end
  return seqs, tss, json, oldest, same
end

-- Whether an instance other than me listens to the conversation's channel (ls:, see listen): the
-- entries of an instance's own appends reach its listeners from the append's reply. A listening
-- instance that stopped without saying so (its instance: key lapsed) is dropped from the set.
local function others_listen(id, me)
  local lk = P .. 'ls:' .. id
  local others = false
  for _, m in ipairs(redis.call('SMEMBERS', lk)) do
    if m ~= me then
      if redis.call('EXISTS', P .. 'instance:' .. m) == 1 then others = true else redis.call('SREM', lk, m) end
    end
  end
  return others
end

-- The conversation record after a write (maxAge as given), its sweep time unless it stands (same),
-- and the entry's fan-out (head: the item JSON before the entry): to every listening instance, or
-- (me: the appending instance's id) to the others only, when there are any. True when published.
local function after_write(id, seqs, tss, maxAge, oldest, now, json, same, me)
  local ck = P .. 'conv:' .. id
  if same or not oldest then
    redis.call('HSET', ck, 'ls', seqs, 'act', tss, 'age', maxAge)
  else
    redis.call('HSET', ck, 'ls', seqs, 'act', tss, 'age', maxAge, 'old', n2s(oldest))
  end
  if not same then redis.call('ZADD', P .. 'sweep', n2s((oldest or now) + tonumber(maxAge)), id) end
  if me and not others_listen(id, me) then return false end
  redis.call('PUBLISH', P .. 'c:' .. id, '{"kind":"entry","conversationId":' .. cjson.encode(id) .. ',"entry":' .. json .. '}')
  return true
end

-- An open stream's hash, and its member in the stall index.
local function stream_key(id, mid) return P .. 'st:' .. id .. ':' .. mid end
local function stream_member(id, mid) return id .. ':' .. mid end

-- A step of a stream: its time, its keys' expiry (keep ms), its place in the stall index.
local function touch_stream(id, mid, nows, keep)
  redis.call('HSET', stream_key(id, mid), 'up', nows)
  redis.call('PEXPIRE', stream_key(id, mid), keep)
  redis.call('PEXPIRE', P .. 'sts:' .. id, keep)
  redis.call('ZADD', P .. 'stalls', nows, stream_member(id, mid))
end

local function drop_stream(id, mid)
  redis.call('DEL', stream_key(id, mid))
  redis.call('SREM', P .. 'sts:' .. id, mid)
  redis.call('ZREM', P .. 'stalls', stream_member(id, mid))
end
`;

/** Each operation that must be atomic, as one script. Replies are documented per script. */
const LUA = {
  /** ARGV: id, site, owner, vid, ctx, idn, replace, emptyTtl. → {created 0/1, id, HGETALL}. */
  open: `
local id, site, owner = ARGV[3], ARGV[4], ARGV[5]
local ck = P .. 'conv:' .. id
if redis.call('EXISTS', ck) == 1 then return {0, id, redis.call('HGETALL', ck)} end
local ok = P .. 'owner:' .. site .. ':' .. owner
if ARGV[9] ~= '1' then
  local cur = redis.call('GET', ok)
  if cur and redis.call('HGET', P .. 'conv:' .. cur, 'cl') == '0' then
    return {0, cur, redis.call('HGETALL', P .. 'conv:' .. cur)}
  end
end
local now = clock()
local nows = n2s(now)
local n = redis.call('INCR', P .. 'nconv')
redis.call('HSET', ck, 'site', site, 'owner', owner, 'vid', ARGV[6], 'at', nows, 'st', 0, 'cl', 0, 'ctx', ARGV[7], 'idn', ARGV[8],
  'rs', 0, 'ls', 0, 'ver', 0, 'n', n, 'act', nows)
redis.call('SET', ok, id)
redis.call('ZADD', P .. 'site:' .. site, nows, site_member(n, id))
redis.call('ZADD', P .. 'own:' .. site .. ':' .. owner, nows, site_member(n, id))
redis.call('ZADD', P .. 'sweep', n2s(now + tonumber(ARGV[10])), id)
return {1, id, redis.call('HGETALL', ck)}
`,

  /**
   * ARGV[3]: this instance's id (an entry is published only when another instance listens). Then
   * appends, in order, each one argument of APPEND_ARGS fields joined by FIELD_SEPARATOR (one
   * argument, not ten: a client pays for each argument of a command): conversation id, entry id, entry JSON without
   * '{' and without seq/ts ('' for a message of kind, id, from and body only: '"kind":"msg",' and
   * the message JSON), maxMessages, maxAgeMs, dedupe window, webhook type ('' for none), start '1',
   * closes '1', message JSON without '{' (id, from, body; '' for an event). The webhook jobs' ids
   * are derived here, as `webhookJobId` does.
   * → one each: false (no conversation) | 'seq,ts,queued head,published' (stored: the entry is the
   * one given, with them; queued head 1: an event it queued is its conversation's first, 0: none
   * is, -1: it queued none; published 1/0) | {1, seq, ts, entry JSON or nil} (a duplicate: the
   * entry stored before).
   */
  append: `
-- One time for every append of the call (they are one atomic step).
local now = clock()
local function append_one(A)
  local id = A[1]
  local ck = P .. 'conv:' .. id
  local c = redis.call('HMGET', ck, 'ls', 'st', 'site', 'vid', 'idn', 'ctx', 'rs', 'old', 'age')
  if not c[1] then return false end
  local last = tonumber(c[1])
  local window = tonumber(A[6])
  local seen = seen_entry(id, A[2], last, window)
  if seen then return {1, seen[1], seen[2], seen[3]} end

  local entry = A[3]
  if entry == '' then entry = '"kind":"msg",' .. A[10] end
  local seqs, tss, json, oldest, same = write_entry(id, last, now, A[2], entry, tonumber(A[4]), tonumber(A[5]), window, c[8], c[9])

  local head = -1
  if A[7] ~= '' then
    head = 0
    local site = c[3]
    -- An event's last fields: siteKey, then id, type and conversationId (job ids and types need no escaping).
    local tail = '"siteKey":' .. cjson.encode(site) .. ',"id":"'
    local conv = '","conversationId":' .. cjson.encode(id) .. '}'
    local vis = visitor(c[4], c[5], c[7])
    if A[8] == '1' and c[2] ~= '1' then
      local job = job_id(id, A[2], 'conversation.started')
      if enqueue(job, id, site, '{"createdAt":' .. tss .. ',"visitor":' .. vis .. ',"data":{"context":' .. c[6] .. '},' .. tail .. job
        .. '","type":"conversation.started' .. conv, now) then head = 1 end
      redis.call('HSET', ck, 'st', 1)
    end
    local job = job_id(id, A[2], A[7])
    if enqueue(job, id, site, '{"createdAt":' .. tss .. ',"visitor":' .. vis .. ',"data":{"message":{"seq":' .. seqs .. ',"ts":' .. tss .. ',' .. A[10]
      .. '},' .. tail .. job .. '","type":"' .. A[7] .. conv, now) then head = 1 end
  end
  if A[9] == '1' then redis.call('HSET', ck, 'cl', 1) end
  local published = after_write(id, seqs, tss, A[5], oldest, now, json, same, ARGV[3])
  -- One string, not an array: a client pays for each element of a reply.
  return seqs .. ',' .. tss .. ',' .. head .. ',' .. (published and '1' or '0')
end
local out = {}
for k = 4, #ARGV do
  out[#out + 1] = append_one(fields(ARGV[k]))
end
return out
`,

  /**
   * ARGV: conversation id, message id, from JSON, dedupe window, keep ms, draft item head. Opens the
   * stream unless the id is a logged message or it is open already (a step then).
   * → false | {'ended', seq, ts, entry JSON or false} | {'open', created 0/1, from, text, at, up}.
   */
  streamStart: `
local id, mid = ARGV[3], ARGV[4]
local c = redis.call('HMGET', P .. 'conv:' .. id, 'ls')
if not c[1] then return false end
local seen = seen_entry(id, mid, tonumber(c[1]), tonumber(ARGV[6]))
if seen then return {'ended', seen[1], seen[2], seen[3]} end
local nows = n2s(clock())
local sk = stream_key(id, mid)
local created = 0
if redis.call('EXISTS', sk) == 0 then
  redis.call('HSET', sk, 'from', ARGV[5], 'tx', '', 'len', 0, 'at', nows)
  redis.call('SADD', P .. 'sts:' .. id, mid)
  created = 1
end
touch_stream(id, mid, nows, ARGV[7])
local h = redis.call('HMGET', sk, 'from', 'tx', 'at', 'up')
if created == 1 then
  redis.call('PUBLISH', P .. 'c:' .. id, ARGV[8] .. '"id":' .. cjson.encode(mid) .. ',"ts":' .. nows .. ',"from":' .. h[1] .. ',"offset":0,"text":""}}')
end
return {'open', created, h[1], h[2], h[3], h[4]}
`,

  /**
   * ARGV: conversation id, message id, offset, text, its length in UTF-16 code units, dedupe window,
   * keep ms, max length, draft item head. The part of the text beyond the held length is found by
   * walking its UTF-8 bytes and counting UTF-16 code units (a 4-byte sequence is a surrogate pair:
   * two), so a cut inside a pair skips the pair, as \`deltaPart\` does.
   * → false | {'ended'} | {'not-found'} | {'gap', held} | {'too-long', held} | {'ok', length, appended 0/1}.
   */
  streamDelta: `
local id, mid = ARGV[3], ARGV[4]
local c = redis.call('HMGET', P .. 'conv:' .. id, 'ls')
if not c[1] then return false end
if seen_entry(id, mid, tonumber(c[1]), tonumber(ARGV[8])) then return {'ended'} end
local sk = stream_key(id, mid)
local h = redis.call('HMGET', sk, 'len', 'tx', 'from')
if not h[1] then return {'not-found'} end
local nows = n2s(clock())
touch_stream(id, mid, nows, ARGV[9])
local held, offset = tonumber(h[1]), tonumber(ARGV[5])
if offset > held then return {'gap', held} end
local s, total = ARGV[6], tonumber(ARGV[7])
local skip = held - offset
local pos, units = 1, 0
while units < skip and pos <= #s do
  local b = string.byte(s, pos)
  if b < 0x80 then pos = pos + 1 elseif b < 0xE0 then pos = pos + 2 elseif b < 0xF0 then pos = pos + 3 else pos = pos + 4; units = units + 1 end
  units = units + 1
end
if pos > #s then return {'ok', held, 0} end
local part = string.sub(s, pos)
local length = held + total - units
if length > tonumber(ARGV[10]) then return {'too-long', held} end
redis.call('HSET', sk, 'tx', h[2] .. part, 'len', length)
redis.call('PUBLISH', P .. 'c:' .. id, ARGV[11] .. '"id":' .. cjson.encode(mid) .. ',"ts":' .. nows .. ',"from":' .. h[3] .. ',"offset":' .. n2s(held)
  .. ',"text":' .. cjson.encode(part) .. '}}')
return {'ok', length, 1}
`,

  /**
   * ARGV: conversation id, message id, maxMessages, maxAgeMs, dedupe window, abort '1', text given '1',
   * text, body JSON before the text, body JSON after it, stalled ms ('' for none), the text of an
   * answer nothing arrived for. Appends the final message (body: before .. text ..
   * after) and drops the stream, in one step.
   * → false | {'dup', seq, ts, entry JSON or false} | {'not-found'} | {'active'} | {'empty'} | {'ended', seq, ts, entry JSON}.
   */
  streamEnd: `
local id, mid = ARGV[3], ARGV[4]
local c = redis.call('HMGET', P .. 'conv:' .. id, 'ls', 'old', 'age')
if not c[1] then return false end
local last, window = tonumber(c[1]), tonumber(ARGV[7])
local seen = seen_entry(id, mid, last, window)
if seen then
  drop_stream(id, mid)
  return {'dup', seen[1], seen[2], seen[3]}
end
local h = redis.call('HMGET', stream_key(id, mid), 'from', 'tx', 'up')
if not h[1] then return {'not-found'} end
local now = clock()
if ARGV[13] ~= '' and tonumber(h[3]) > now - tonumber(ARGV[13]) then return {'active'} end
local text, mark = h[2], ''
if ARGV[8] == '1' then
  if text == '' then text = ARGV[14] end
  mark = ',"incomplete":true'
elseif ARGV[9] == '1' then
  text = ARGV[10]
end
if text == '' then return {'empty'} end
drop_stream(id, mid)
local rest = '"kind":"msg","id":' .. cjson.encode(mid) .. ',"from":' .. h[1] .. ',"body":' .. ARGV[11] .. cjson.encode(text) .. ARGV[12] .. mark .. '}'
local seqs, tss, json, oldest, same = write_entry(id, last, now, mid, rest, tonumber(ARGV[5]), tonumber(ARGV[6]), window, c[2], c[3])
after_write(id, seqs, tss, ARGV[6], oldest, now, json, same)
return {'ended', seqs, tss, json}
`,

  /** ARGV: conversation id. The open streams; members whose hash expired are dropped. → {mid, from, text, at, up, …}. */
  streamsOpen: `
local id = ARGV[3]
local out = {}
for _, mid in ipairs(redis.call('SMEMBERS', P .. 'sts:' .. id)) do
  local h = redis.call('HMGET', stream_key(id, mid), 'from', 'tx', 'at', 'up')
  if h[1] then
    out[#out + 1] = mid
    for i = 1, 4 do out[#out + 1] = h[i] end
  else
    drop_stream(id, mid)
  end
end
return out
`,

  /** ARGV: stall ms, limit. Streams with no step for stall ms, oldest step first; index members whose hash expired are dropped. → {'<conv>:<mid>', …}. */
  streamsStalled: `
local rows = redis.call('ZRANGEBYSCORE', P .. 'stalls', '-inf', n2s(clock() - tonumber(ARGV[3])), 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, member in ipairs(rows) do
  local id, mid = string.match(member, '^([^:]+):(.+)$')
  if id and redis.call('EXISTS', stream_key(id, mid)) == 1 then
    out[#out + 1] = member
  elseif id then
    drop_stream(id, mid)
  else
    redis.call('ZREM', P .. 'stalls', member)
  end
end
return out
`,

  /**
   * ARGV: conversation id, job id, message id, dedupe window, data JSON, envelope rest, dedupe cap.
   * Enqueues the feedback job unless its id was seen, and only on a bot message the log holds.
   * → false | 'queued' | 'duplicate' | 'not-found'.
   */
  feedback: `
local id = ARGV[3]
local c = redis.call('HMGET', P .. 'conv:' .. id, 'ls', 'site', 'vid', 'idn', 'rs')
if not c[1] then return false end
local fk = P .. 'fb:' .. id
if redis.call('ZSCORE', fk, ARGV[4]) then return 'duplicate' end
local seen = seen_entry(id, ARGV[5], tonumber(c[1]), tonumber(ARGV[6]))
if not seen or not seen[3] then return 'not-found' end
local e = cjson.decode(seen[3])
if e.kind ~= 'msg' or type(e.from) ~= 'table' or e.from.role ~= 'bot' then return 'not-found' end
local now = clock()
local cap = tonumber(ARGV[9])
redis.call('ZADD', fk, n2s(now), ARGV[4])
if redis.call('ZCARD', fk) > cap then redis.call('ZREMRANGEBYRANK', fk, 0, -cap - 1) end
enqueue(ARGV[4], id, c[2], '{"createdAt":' .. n2s(now) .. ',"visitor":' .. visitor(c[3], c[4], c[5]) .. ',"data":' .. ARGV[7] .. ',"siteKey":'
  .. cjson.encode(c[2]) .. ',' .. ARGV[8], now)
return 'queued'
`,

  /**
   * ARGV: conversation id, after, limit. → {lastSeq, hasMore 0/1, entry JSON…}. Entries older than
   * the retention age are left out even before an append or a sweep drops them.
   */
  read: `
local id = ARGV[3]
local c = redis.call('HMGET', P .. 'conv:' .. id, 'ls', 'age')
if not c[1] then return {0, 0} end
local last = tonumber(c[1])
local after, count = tonumber(ARGV[4]), tonumber(ARGV[5])
if after >= last or count <= 0 then
  if after < last then return {last, 1} end
  return {last, 0}
end
local lk = P .. 'log:' .. id
local start = after + 1
if c[2] then
  local due = redis.call('ZSCORE', P .. 'sweep', id)
  local now = clock()
  if due and tonumber(due) < now then
    local keep = first_young(lk, now - tonumber(c[2]))
    local from = last + 1
    if keep then from = id_seq(keep) end
    if from > start then start = from end
  end
end
local rows = redis.call('XRANGE', lk, n2s(start), '+', 'COUNT', count + 1)
local out = {last, 0}
if #rows > count then out[2] = 1 end
for i = 1, math.min(#rows, count) do out[#out + 1] = rows[i][2][2] end
return out
`,

  /** ARGV: id, expected version, context JSON, job id ('' when quiet), envelope rest. → false | 0 (version moved) | HGETALL. */
  merge: `
local id = ARGV[3]
local ck = P .. 'conv:' .. id
local c = redis.call('HMGET', ck, 'ver', 'st', 'site', 'vid', 'idn', 'rs')
if not c[1] then return false end
if c[1] ~= ARGV[4] then return 0 end
redis.call('HSET', ck, 'ctx', ARGV[5])
redis.call('HINCRBY', ck, 'ver', 1)
if ARGV[6] ~= '' and c[2] == '1' then
  local now = clock()
  enqueue(ARGV[6], id, c[3], '{"createdAt":' .. n2s(now) .. ',"visitor":' .. visitor(c[4], c[5], c[6]) .. ',"data":{"context":' .. ARGV[5] .. '},"siteKey":'
    .. cjson.encode(c[3]) .. ',' .. ARGV[7], now)
end
return redis.call('HGETALL', ck)
`,

  /** ARGV: id, identity JSON. → false | HGETALL. */
  identity: `
local ck = P .. 'conv:' .. ARGV[3]
if redis.call('EXISTS', ck) == 0 then return false end
redis.call('HSET', ck, 'idn', ARGV[4])
return redis.call('HGETALL', ck)
`,

  /**
   * ARGV: id, site, from owner, owner, identity JSON, job id, envelope rest. Hands the conversation
   * to the owner (see `adoptConversation`). → false (refused) | {linked id or '', HGETALL}.
   */
  adopt: `
local id, site, from, owner = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ck = P .. 'conv:' .. id
local c = redis.call('HMGET', ck, 'site', 'cl', 'owner', 'st', 'vid', 'rs')
if not c[1] or c[1] ~= site or c[2] ~= '0' then return false end
if c[3] == owner then return {'', redis.call('HGETALL', ck)} end
if c[3] ~= from then return false end
local ok = P .. 'owner:' .. site .. ':' .. owner
local prev = redis.call('GET', ok)
local linked = ''
if prev and prev ~= id and redis.call('HGET', P .. 'conv:' .. prev, 'cl') == '0' then linked = prev end
local fk = P .. 'owner:' .. site .. ':' .. from
if redis.call('GET', fk) == id then redis.call('DEL', fk) end
redis.call('SET', ok, id)
redis.call('HSET', ck, 'owner', owner, 'idn', ARGV[7])
local an = redis.call('HMGET', ck, 'at', 'n')
redis.call('ZREM', P .. 'own:' .. site .. ':' .. from, site_member(an[2], id))
redis.call('ZADD', P .. 'own:' .. site .. ':' .. owner, an[1], site_member(an[2], id))
if c[4] == '1' then
  local now = clock()
  local data = '{}'
  if linked ~= '' then data = '{"linkedConversationId":' .. cjson.encode(linked) .. '}' end
  enqueue(ARGV[8], id, site, '{"createdAt":' .. n2s(now) .. ',"visitor":' .. visitor(c[5], ARGV[7], c[6]) .. ',"data":' .. data .. ',"siteKey":'
    .. cjson.encode(site) .. ',' .. ARGV[9], now)
end
return {linked, redis.call('HGETALL', ck)}
`,

  /** ARGV: id, seq. → false | the stored mark of the site's side. */
  peerReadSeq: `
local ck = P .. 'conv:' .. ARGV[3]
if redis.call('EXISTS', ck) == 0 then return false end
local cur = tonumber(redis.call('HGET', ck, 'pr') or '0')
if tonumber(ARGV[4]) > cur then
  redis.call('HSET', ck, 'pr', ARGV[4])
  return ARGV[4]
end
return n2s(cur)
`,

  /** ARGV: id, seq. → false | the stored read seq. */
  readSeq: `
local ck = P .. 'conv:' .. ARGV[3]
local cur = redis.call('HGET', ck, 'rs')
if not cur then return false end
if tonumber(ARGV[4]) > tonumber(cur) then
  redis.call('HSET', ck, 'rs', ARGV[4])
  return ARGV[4]
end
return cur
`,

  /**
   * ARGV: site, limit, cursor score ('' for the newest page), cursor member. One page of the site
   * set, newest first, strictly after the position (score, member) in the set's own order (score,
   * then member): the member carries the creation number, so the set orders ties and no second
   * index is needed. → {next member or '', its score, id, HGETALL, …}; a next member means more follow.
   *
   * The position's member is normally still in the set: ZREVRANK finds it and ZREVRANGE reads the
   * page from there, O(log n + limit). When it has gone (swept since), the set is read by score:
   * the members sharing its score that sort below it (those opened in the same millisecond on the
   * site, a handful), then the strictly older ones with ZREVRANGEBYSCORE … LIMIT. A composite score
   * (createdAt and a counter in one double) would leave too few bits for either; ZRANGEBYLEX is
   * undefined on a set whose scores differ.
   */
  /**
   * ARGV: site, owner key, limit, scan. The owner's newest conversations: → {id, createdAt, closed,
   * lastSeq, the JSON of its newest message among the last `scan` log entries or nil, …}.
   */
  owned: `
local out = {}
for _, m in ipairs(redis.call('ZREVRANGE', P .. 'own:' .. ARGV[3] .. ':' .. ARGV[4], 0, tonumber(ARGV[5]) - 1)) do
  local id = string.match(m, '^%d+:(.*)$')
  local c = redis.call('HMGET', P .. 'conv:' .. id, 'at', 'cl', 'ls')
  if c[1] then
    local last = false
    for _, e in ipairs(redis.call('XREVRANGE', P .. 'log:' .. id, '+', '-', 'COUNT', ARGV[6])) do
      if cjson.decode(e[2][2]).kind == 'msg' then
        last = e[2][2]
        break
      end
    end
    out[#out + 1] = {id, c[1], c[2], c[3], last}
  end
end
return out
`,

  list: `
local key = P .. 'site:' .. ARGV[3]
local limit = tonumber(ARGV[4])
local at, after = ARGV[5], ARGV[6]
local rows
if at == '' then
  rows = redis.call('ZREVRANGE', key, 0, limit, 'WITHSCORES')
else
  local score = redis.call('ZSCORE', key, after)
  if score and tonumber(score) == tonumber(at) then
    local rank = redis.call('ZREVRANK', key, after)
    rows = redis.call('ZREVRANGE', key, rank + 1, rank + 1 + limit, 'WITHSCORES')
  else
    rows = {}
    -- Ties compare by creation number (Lua's string < follows the server's locale, members do not).
    local n = tonumber(string.match(after, '^(%d+):')) or -1
    local ties = redis.call('ZREVRANGEBYSCORE', key, at, at, 'WITHSCORES')
    for i = 1, #ties, 2 do
      if tonumber(string.match(ties[i], '^(%d+):')) < n and #rows < 2 * (limit + 1) then
        rows[#rows + 1] = ties[i]
        rows[#rows + 1] = ties[i + 1]
      end
    end
    local want = limit + 1 - #rows / 2
    if want > 0 then
      for _, v in ipairs(redis.call('ZREVRANGEBYSCORE', key, '(' .. at, '-inf', 'WITHSCORES', 'LIMIT', 0, want)) do rows[#rows + 1] = v end
    end
  end
end
local out = {'', ''}
if #rows > 2 * limit then
  out[1] = rows[2 * limit - 1]
  out[2] = rows[2 * limit]
end
for i = 1, math.min(#rows, 2 * limit), 2 do
  local id = string.match(rows[i], '^%d+:(.*)$')
  local h = redis.call('HGETALL', P .. 'conv:' .. id)
  if #h > 0 then
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
return out
`,

  /**
   * ARGV: batch. Drops expired entries of the conversations whose sweep time passed, and forgets
   * those with an empty log idle past their max age (or never appended to, past their TTL). → how
   * many conversations it looked at.
   */
  sweep: `
local now = clock()
local due = redis.call('ZRANGEBYSCORE', P .. 'sweep', '-inf', '(' .. n2s(now), 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  local ck = P .. 'conv:' .. id
  local c = redis.call('HMGET', ck, 'age', 'act', 'site', 'owner', 'n')
  local forget = false
  if not c[3] then
    redis.call('ZREM', P .. 'sweep', id)
  elseif not c[1] then
    forget = true
  else
    local age = tonumber(c[1])
    local oldest = trim_age(P .. 'log:' .. id, now - age)
    if oldest then
      redis.call('ZADD', P .. 'sweep', n2s(oldest + age), id)
    elseif tonumber(c[2]) < now - age then
      forget = true
    else
      redis.call('ZADD', P .. 'sweep', n2s(tonumber(c[2]) + age), id)
    end
  end
  if forget then
    for _, mid in ipairs(redis.call('SMEMBERS', P .. 'sts:' .. id)) do drop_stream(id, mid) end
    redis.call('DEL', ck, P .. 'log:' .. id, P .. 'ids:' .. id, P .. 'idq:' .. id, P .. 'sts:' .. id, P .. 'fb:' .. id, P .. 'ls:' .. id)
    local ok = P .. 'owner:' .. c[3] .. ':' .. c[4]
    if redis.call('GET', ok) == id then redis.call('DEL', ok) end
    redis.call('ZREM', P .. 'site:' .. c[3], site_member(c[5], id))
    redis.call('ZREM', P .. 'own:' .. c[3] .. ':' .. c[4], site_member(c[5], id))
    redis.call('ZREM', P .. 'sweep', id)
  end
end
return #due
`,

  /**
   * ARGV: site:visitor, revoked at (ms), keep (ms). Keeps "<at>,<until>", the mark only moving
   * forward, expiring (server time) with the last token it could refuse.
   */
  revoke: `
local k = P .. 'revoked:' .. ARGV[3]
local now = clock()
local at, keep = tonumber(ARGV[4]), tonumber(ARGV[5])
local held = redis.call('GET', k)
local expire = now + keep
if held then
  local a, u = string.match(held, '^(%d+),(%d+)$')
  if a then
    at = math.max(at, tonumber(a))
    expire = math.max(expire, tonumber(u))
  end
end
redis.call('SET', k, n2s(at) .. ',' .. n2s(expire), 'PX', n2s(math.max(1, expire - now)))
return 1
`,

  /** ARGV: key, perSecond, burst. → 1 taken | 0 empty. */
  token: `
local k = P .. 'tb:' .. ARGV[3]
local now = clock()
local rate, burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local b = redis.call('HMGET', k, 't', 'at')
local tokens = burst
if b[1] then tokens = math.min(burst, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate / 1000) end
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', k, 't', string.format('%.17g', tokens), 'at', n2s(now))
redis.call('PEXPIRE', k, n2s(math.ceil((burst - tokens) * 1000 / rate) + 1))
return ok
`,

  /**
   * ARGV: key, cap, instance id, ttl ms. Renews this instance's liveness, drops the fields of
   * instances whose liveness lapsed, and takes a slot unless the others reach the cap. → 1 | 0.
   */
  acquire: `
local k, me, ttl = P .. 'slots:' .. ARGV[3], ARGV[5], ARGV[6]
redis.call('SET', P .. 'instance:' .. me, 1, 'PX', ttl)
local h = redis.call('HGETALL', k)
local held = 0
for i = 1, #h, 2 do
  if h[i] == me or redis.call('EXISTS', P .. 'instance:' .. h[i]) == 1 then
    held = held + tonumber(h[i + 1])
  else
    redis.call('HDEL', k, h[i])
  end
end
if held >= tonumber(ARGV[4]) then return 0 end
redis.call('HINCRBY', k, me, 1)
redis.call('PEXPIRE', k, ttl)
return 1
`,

  /** ARGV: key, instance id. Gives back one of this instance's slots (never below zero). → 1 | 0 (held none). */
  release: `
local k, me = P .. 'slots:' .. ARGV[3], ARGV[4]
local n = tonumber(redis.call('HGET', k, me) or '0')
if n > 1 then
  redis.call('HINCRBY', k, me, -1)
elseif n == 1 then
  redis.call('HDEL', k, me)
end
if n > 0 then return 1 end
return 0
`,

  /**
   * ARGV: instance id, ttl ms, slot key… Renews this instance's liveness and the TTL of the slot keys
   * it holds. → 1 | 0: the liveness key had lapsed (its registrations in ls: may be gone: listen again).
   */
  heartbeat: `
local ttl = ARGV[4]
local had = redis.call('SET', P .. 'instance:' .. ARGV[3], 1, 'PX', ttl, 'GET')
for i = 5, #ARGV do redis.call('PEXPIRE', P .. 'slots:' .. ARGV[i], ttl) end
if had then return 1 end
return 0
`,

  /** ARGV: instance id, conversation id… This instance no longer listens to those conversations' channels. */
  unlisten: `
for i = 4, #ARGV do redis.call('SREM', P .. 'ls:' .. ARGV[i], ARGV[3]) end
return 1
`,

  /** ARGV: instance id, ttl ms, conversation id… This instance listens to those conversations' channels (ls:), and is alive. */
  listen: `
local me = ARGV[3]
redis.call('SET', P .. 'instance:' .. me, 1, 'PX', ARGV[4])
for i = 5, #ARGV do redis.call('SADD', P .. 'ls:' .. ARGV[i], me) end
return 1
`,

  /**
   * ARGV: max, leaseMs, token base. Moves the conversations whose first job's time came to DUE, then
   * leases the first jobs of the oldest ones there. → {now, lease until, job, …}, each job one
   * string of its fields joined by FIELD_SEPARATOR: id, conv, site, att, enq, first, due, lease,
   * err, event JSON (one string, not an array of twelve: a client pays for each element).
   */
  claim: `
local now = clock()
local max, leaseMs = tonumber(ARGV[3]), tonumber(ARGV[4])
local moved = redis.call('ZRANGEBYSCORE', WAITING, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0, ${PROMOTE_BATCH})
if #moved > 0 then
  local filing = {}
  for i = 1, #moved, 2 do
    local conv = moved[i]
    local head = redis.call('LINDEX', P .. 'q:' .. conv, 0)
    if head then
      filing[conv] = {DUE, redis.call('HGET', P .. 'job:' .. head, 'n') or 0, tonumber(moved[i + 1])}
    else
      filing[conv] = false
    end
  end
  local low = file_all(filing)
  if low then due_min(low) end
end
local nows, untils = n2s(now), n2s(now + leaseMs)
local out = {nows, untils}
if max > 0 then
  local popped = redis.call('ZPOPMIN', DUE, max)
  local leases = {}
  for k = 1, #popped, 2 do
    local conv = popped[k]
    local id = redis.call('LINDEX', P .. 'q:' .. conv, 0)
    -- (A conversation in DUE always has a first job; one that had none is left out of both sets.)
    if id then
      local jk = P .. 'job:' .. id
      local token = ARGV[5] .. '.' .. ((k + 1) / 2)
      local j = redis.call('HMGET', jk, 'ev', 'site', 'enq', 'due', 'err', 'att', 'first')
      local att = (tonumber(j[6]) or 0) + 1
      local first = j[7] or nows
      redis.call('HSET', jk, 'att', att, 'first', first, 'last', nows, 'lease', token, 'until', untils)
      leases[#leases + 1] = untils
      leases[#leases + 1] = conv
      out[#out + 1] = table.concat({id, conv, j[2], att, j[3] or '', first, j[4] or '', token, j[5] or '', j[1] or ''}, SEP)
    end
  end
  if #leases > 0 then redis.call('ZADD', WAITING, unpack(leases)) end
end
if redis.call('ZCARD', DUE) == 0 then redis.call('DEL', DUEMIN) end
return out
`,

  /** → the earliest time a claim can return a job, or false when the queue is empty. */
  nextAt: `
local w = redis.call('ZRANGE', WAITING, 0, 0, 'WITHSCORES')
local best = nil
if w[2] then best = tonumber(w[2]) end
if redis.call('ZCARD', DUE) > 0 then
  local m = tonumber(redis.call('GET', DUEMIN) or '0')
  if not best or m < best then best = m end
end
if not best then return false end
return n2s(best)
`,

  /** ARGV: job id, token, job id, token… → one character for each job, in order: '1', or '0' (a stale lease). */
  complete: `
local now, out, filing = clock(), {}, {}
for i = 3, #ARGV - 1, 2 do
  local conv = leased(ARGV[i], ARGV[i + 1])
  if conv then
    pop_head(ARGV[i], conv, now, filing)
    out[#out + 1] = '1'
  else
    out[#out + 1] = '0'
  end
end
if #out > 0 then due_min(file_all(filing)) end
return table.concat(out)
`,

  /** ARGV: job id, token, delayMs, error JSON. → 1 | 0. */
  retry: `
local conv = leased(ARGV[3], ARGV[4])
if not conv then return 0 end
local due = n2s(clock() + tonumber(ARGV[5]))
local jk = P .. 'job:' .. ARGV[3]
redis.call('HSET', jk, 'due', due, 'err', ARGV[6])
redis.call('HDEL', jk, 'lease', 'until')
redis.call('ZREM', DUE, conv)
redis.call('ZADD', WAITING, due, conv)
if redis.call('ZCARD', DUE) == 0 then redis.call('DEL', DUEMIN) end
return 1
`,

  /** ARGV: job id, token, error JSON, max dead letters. → 1 | 0. */
  dead: `
local conv = leased(ARGV[3], ARGV[4])
if not conv then return 0 end
local j = redis.call('HMGET', P .. 'job:' .. ARGV[3], 'ev', 'site', 'att', 'enq', 'first', 'last')
local letter = '{"event":' .. j[1] .. ',"attempts":' .. j[3] .. ',"firstAttemptAt":' .. (j[5] or j[4]) .. ',"lastAttemptAt":' .. (j[6] or j[4])
  .. ',"lastError":' .. ARGV[5] .. '}'
local dk = P .. 'dead:' .. j[2]
redis.call('RPUSH', dk, letter)
redis.call('LTRIM', dk, -tonumber(ARGV[6]), -1)
local filing = {}
pop_head(ARGV[3], conv, clock(), filing)
due_min(file_all(filing))
return 1
`,
} as const;

type ScriptName = keyof typeof LUA;

interface Script {
  lua: string;
  sha: string;
}

const SCRIPTS = Object.fromEntries(
  Object.entries(LUA).map(([name, body]) => {
    const lua = PRELUDE + body;
    return [name, { lua, sha: createHash('sha1').update(lua).digest('hex') }];
  }),
) as Record<ScriptName, Script>;

// ---- replies ----

function fail(what: string): never {
  throw new Error(`RedisEngine: unexpected reply (${what}).`);
}

function list(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : fail('not an array');
}

function str(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (typeof reply === 'number') return String(reply);
  return fail('not a string');
}

function num(reply: unknown): number {
  if (typeof reply === 'number') return reply;
  const n = Number(str(reply));
  return Number.isFinite(n) ? n : fail('not a number');
}

/** A flat HGETALL reply as a record. */
function record(reply: unknown): Record<string, string> {
  const flat = list(reply);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[str(flat[i])] = str(flat[i + 1]);
  return out;
}

const parse = <T>(json: string): T => JSON.parse(json) as T;

function toConversation(id: string, h: Record<string, string>): Conversation {
  const conversation: Conversation = {
    id,
    siteKey: h.site ?? fail('conversation without site'),
    visitorId: h.vid ?? '',
    createdAt: Number(h.at),
    started: h.st === '1',
    closed: h.cl === '1',
    context: parse<VisitorContext>(h.ctx ?? '{}'),
    readSeq: Number(h.rs ?? 0),
    peerReadSeq: Number(h.pr ?? 0),
    lastSeq: Number(h.ls ?? 0),
  };
  if (h.idn) conversation.identity = parse<ConversationIdentity>(h.idn);
  return conversation;
}

/**
 * A claimed job as a claim's reply gives it. Its event is parsed when asked for (a webhook posts the
 * stored JSON as it is), by a getter on the class: one shape for every job, and no accessor defined
 * per object. A copy by spread leaves the getter behind: copy `event` with it.
 */
class RedisClaimedJob implements ClaimedJob {
  readonly id: string;
  readonly siteKey: string;
  readonly conversationId: string;
  readonly eventJson: string;
  readonly attempts: number;
  readonly enqueuedAt: number;
  readonly firstAttemptAt: number;
  readonly lastAttemptAt: number;
  readonly dueAt: number;
  readonly lease: string;
  readonly leaseUntil: number;
  lastError?: JobError;
  private parsed: WebhookEvent | undefined;

  /** `fields`: a job of the claim script's reply, split (id, conv, site, att, enq, first, due, lease, err, event JSON). */
  constructor(fields: readonly string[], lastAttemptAt: number, leaseUntil: number) {
    if (fields.length !== 10) fail(`a claimed job of ${fields.length} fields`);
    const [id, conversationId, siteKey, attempts, enqueuedAt, first, dueAt, lease, error, event] = fields as [string, string, string, string, string, string, string, string, string, string];
    this.id = id;
    this.siteKey = siteKey;
    this.conversationId = conversationId;
    this.eventJson = event;
    this.attempts = num(attempts);
    this.enqueuedAt = num(enqueuedAt);
    this.firstAttemptAt = num(first);
    this.lastAttemptAt = lastAttemptAt;
    this.dueAt = num(dueAt);
    this.lease = lease;
    this.leaseUntil = leaseUntil;
    this.parsed = undefined;
    if (error) this.lastError = parse<JobError>(error);
  }

  get event(): WebhookEvent {
    return (this.parsed ??= parse<WebhookEvent>(this.eventJson));
  }
}

/**
 * Calls of one script asked for in one turn of the event loop, sent when the turn ends as one call
 * of it (at most `max` at a time) with their arguments one after the other, after the leading ones
 * `lead` gives when the call is put together; each caller gets its own part of the reply, and all of
 * a call's callers its error.
 */
class ScriptBatch {
  /** The call being put together: its arguments so far, and its callers. */
  private open: { args: (string | number)[]; resolve: Array<(reply: unknown) => void>; reject: Array<(error: unknown) => void> } | undefined;
  private booked = false;

  constructor(
    private readonly lead: () => (string | number)[],
    private readonly send: (args: (string | number)[]) => Promise<unknown>,
    private readonly max: number,
    /** The reply's part for each call, in order. */
    private readonly parts: (reply: unknown) => readonly unknown[] = list,
  ) {}

  add(args: readonly (string | number)[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let call = this.open;
      if (!call) {
        call = this.open = { args: this.lead(), resolve: [], reject: [] };
        if (!this.booked) {
          this.booked = true;
          setImmediate(this.flush);
        }
      }
      for (const arg of args) call.args.push(arg);
      call.resolve.push(resolve);
      call.reject.push(reject);
      if (call.resolve.length >= this.max) this.sendOpen();
    });
  }

  /** Send what is waiting now (the end of the turn, or a close). */
  readonly flush = (): void => {
    this.booked = false;
    this.sendOpen();
  };

  private sendOpen(): void {
    const call = this.open;
    if (!call) return;
    this.open = undefined;
    this.send(call.args).then(
      (reply) => {
        const parts = this.parts(reply);
        for (let i = 0; i < call.resolve.length; i++) call.resolve[i]!(parts[i] ?? null);
      },
      (error: unknown) => {
        for (const reject of call.reject) reject(error);
      },
    );
  }
}

/** The JSON of an object without its opening brace, as the scripts expect it. */
const rest = (value: object): string => JSON.stringify(value).slice(1);

/** Whether a new entry holds a message's kind, id, from and body and nothing else (its JSON is `"kind":"msg",` and the message's). */
function onlyMessageFields(entry: object): boolean {
  let fields = 0;
  for (const key in entry) {
    if (key !== 'kind' && key !== 'id' && key !== 'from' && key !== 'body') return false;
    fields++;
  }
  return fields === 4;
}

/** A stored entry's JSON, or null (Lua false: retention trimmed it). */
const entryOrNull = (reply: unknown): LogEntry | null => (reply === null || reply === undefined ? null : parse<LogEntry>(str(reply)));

/** The JSON of a draft fan-out item up to its draft's fields, which the scripts write. */
const draftHead = (conversationId: string): string => `{"kind":"draft","conversationId":${JSON.stringify(conversationId)},"draft":{`;

/** A snapshot's TTL in ms: at least a second. */
const keepOf = (keepMs: number): number => Math.max(1000, Math.floor(keepMs));

/**
 * The JSON of the final message body around its text, which the script writes (the request's, or
 * the text held): `{"type":…,"text":` and what follows the text (replies, sources) with the `}`.
 */
function bodyAround(request: StreamEndRequest): [string, string] {
  const quick = !request.abort && !!request.quickReplies?.length;
  const others: Record<string, unknown> = {};
  if (!request.abort) {
    if (quick) others.replies = request.quickReplies;
    if (request.sources?.length) others.sources = request.sources;
  }
  const json = JSON.stringify(others);
  return [`{"type":${quick ? '"quick_replies"' : '"text"'},"text":`, json === '{}' ? '}' : ',' + json.slice(1)];
}

/** The url without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const noop = (): void => {};

interface Subscription {
  listener: (item: FanoutItem) => void;
}

/**
 * This instance's listeners of one topic. An entry this instance appends reaches them twice: from
 * the append's reply (`deliverHere`) and from its published copy, in either order (two
 * connections). Each is handed on once: the seqs of the first copy wait here for the second.
 */
interface Topic {
  readonly subs: Set<Subscription>;
  /** Seqs handed on from an append's reply whose published copy has not come back yet. */
  here: Set<number> | undefined;
  /** Seqs handed on from pub/sub while this instance had an append of the conversation in flight. */
  early: Set<number> | undefined;
  /** What a published entry of the conversation begins with, up to its seq (see `publishedSeq`); made when first needed. */
  head: Buffer | undefined;
}

/** The conversation of a conversation topic (`conversationTopic`), or undefined for another topic. */
const conversationOf = (topic: string): string | undefined => (topic.startsWith('c:') ? topic.slice(2) : undefined);

/** The JSON of an entry's fan-out item up to the entry, as the scripts write it (`after_write`). */
const entryHead = (conversationId: string): string => `{"kind":"entry","conversationId":${JSON.stringify(conversationId)},"entry":`;

/**
 * The seq of a published entry whose JSON begins with `head` (`entryHead` and the entry's
 * `{"seq":`, as the scripts write it, in UTF-8), read from the bytes; NaN for any other item.
 */
function publishedSeq(message: Buffer, head: Buffer): number {
  if (message.length <= head.length || message.compare(head, 0, head.length, 0, head.length) !== 0) return NaN;
  let seq = 0;
  let i = head.length;
  for (let byte = message[i]!; byte >= 0x30 && byte <= 0x39; byte = message[++i]!) seq = seq * 10 + (byte - 0x30);
  return i > head.length ? seq : NaN;
}

/**
 * The engine for several relay instances: all state in one Redis server, one Lua script per atomic
 * operation, fan-out by pub/sub with a `resync` to every subscriber after the subscriber connection
 * comes back (what was published meanwhile is read from the logs). While Redis is unreachable,
 * `isReady()` is false and every operation fails at once with `EngineUnavailableError` (nothing is
 * queued); the connections come back by themselves.
 */
export class RedisEngine implements Engine {
  readonly name = 'redis';
  /** Prefix of every key and channel. */
  readonly prefix: string;
  private readonly url: string;
  private readonly clock: (() => number) | undefined;
  private readonly maxDeadLetters: number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly onError: (error: unknown) => void;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly emptyTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly instanceTtlMs: number;
  private cmd: Redis | undefined;
  private sub: Redis | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private heartbeats: NodeJS.Timeout | undefined;
  /** This instance's id in `slots:` hashes: random per start, so a restarted relay never inherits slots. */
  private instance = '';
  /** Slots this instance holds, per key: the keys its heartbeat keeps alive. */
  private readonly held = new Map<string, number>();
  /** Releases that could not reach Redis, per key: the heartbeat retries them. */
  private readonly unreleased = new Map<string, number>();
  private starting: Promise<void> | undefined;
  /** Server clock minus local clock, measured with TIME (for `now()` without an injected clock). */
  private offset = 0;
  private readonly topics = new Map<string, Topic>();
  /** Claims this instance made: each claim's leases have a base of their own. */
  private claims = 0;
  /** Registrations (ls:) to make again: Redis may have lost them and registering again failed. */
  private relisten = false;
  /**
   * Appends of each conversation this instance has sent and not yet had the reply of. A count that
   * falls to 0 stays (a map that shrinks and grows again every turn of the event loop costs more
   * than its entries), until APPENDING_IDLE of them are dropped at once.
   */
  private readonly appending = new Map<string, number>();
  /** Counts in `appending` that fell to 0 since its zeros were last dropped. */
  private appendingIdle = 0;
  /** SUBSCRIBE commands in flight, per topic. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  /** Merges of one conversation from this process run one after another (other instances are handled by the version check). */
  private readonly merging = new Map<string, Promise<unknown>>();
  /**
   * Appends and webhook completions asked for in one turn of the event loop go to Redis as one
   * call of their script each: under load many visitors' messages arrive, and many deliveries
   * end, in the same turn.
   */
  private readonly appends = new ScriptBatch(
    () => [...this.lead('append'), this.instance],
    (args) => this.evalScript('append', args),
    APPEND_BATCH,
  );
  private readonly completions = new ScriptBatch(
    () => this.lead('complete'),
    (args) => this.evalScript('complete', args),
    COMPLETE_BATCH,
    (reply) => str(reply).split(''),
  );

  constructor(options: RedisEngineOptions) {
    this.url = options.url;
    this.prefix = options.prefix ?? 'parley:';
    this.clock = options.now;
    this.maxDeadLetters = Math.max(1, Math.floor(options.maxDeadLetters ?? 1000));
    this.onListenerError = options.onListenerError ?? noop;
    this.onError = options.onError ?? noop;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    this.emptyTtlMs = options.emptyConversationTtlMs ?? 24 * 3600_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.instanceTtlMs = Math.max(30, Math.floor(options.instanceTtlMs ?? 30_000));
  }

  /** Connect both connections (commands, and pub/sub) and wait until both are ready. */
  start(): Promise<void> {
    this.starting ??= this.connect().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async connect(): Promise<void> {
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: this.commandTimeoutMs,
      // Fail fast while disconnected: no offline queue, and commands in flight when the connection
      // drops are rejected (maxRetriesPerRequest 0), not resent after it comes back. The caller
      // retries with the same ids, which the scripts deduplicate.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // The engine subscribes again itself, so it knows when the subscriptions are live (then: resync).
      autoResubscribe: false,
      disableClientInfo: true,
      // Reconnect forever: 50 ms doubling up to 1 s, with jitter so instances do not reconnect in step.
      retryStrategy: (attempt) => Math.round(Math.min(1000, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2)),
    };
    const cmd = new Redis(this.url, { ...options, connectionName: 'parley-relay' });
    const sub = new Redis(this.url, { ...options, connectionName: 'parley-relay-sub' });
    cmd.on('error', (error: unknown) => this.onError(error));
    sub.on('error', (error: unknown) => this.onError(error));
    let subWasReady = false;
    sub.on('ready', () => {
      if (subWasReady) void this.resubscribe(sub);
      subWasReady = true;
    });
    // Buffers: a copy of an entry published here is dropped without being decoded.
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel.toString(), message));
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
      const info = str(await cmd.info('server'));
      const version = /redis_version:(\d+)\.(\d+)/.exec(info);
      if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
        throw new Error(`it runs Redis ${version[1]}.${version[2]}; the engine needs 6.2 or later`);
      }
      this.cmd = cmd;
      this.sub = sub;
      this.instance = randomBytes(12).toString('base64url');
      this.held.clear();
      this.unreleased.clear();
      await this.measureOffset();
    } catch (error) {
      this.cmd = undefined;
      this.sub = undefined;
      cmd.disconnect();
      sub.disconnect();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`The Redis engine cannot use ${redact(this.url)}: ${reason}`, { cause: error });
    }
    this.sweeper = setInterval(() => {
      void this.sweep().catch(this.onError);
      void this.measureOffset().catch(noop);
    }, this.sweepIntervalMs);
    this.sweeper.unref();
    this.heartbeats = setInterval(() => void this.heartbeat().catch(noop), Math.floor(this.instanceTtlMs / 3));
    this.heartbeats.unref();
  }

  isReady(): boolean {
    return this.cmd?.status === 'ready' && this.sub?.status === 'ready';
  }

  async close(): Promise<void> {
    this.appends.flush();
    this.completions.flush();
    await this.starting?.catch(noop);
    this.starting = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    clearInterval(this.heartbeats);
    this.heartbeats = undefined;
    // Other instances stop publishing to this one, and its slots stop counting, at once (a kill -9
    // leaves them until the liveness key lapses).
    await this.registration('unlisten', this.listened()).catch(noop);
    if (this.instance) await this.command((r) => r.del(this.key('instance:', this.instance))).catch(noop);
    this.topics.clear();
    const connections = [this.cmd, this.sub];
    this.cmd = undefined;
    this.sub = undefined;
    await Promise.all(
      connections.map(async (connection) => {
        if (!connection) return;
        if (connection.status === 'ready') {
          try {
            await connection.quit();
            return;
          } catch {
            // fall through: drop the connection
          }
        }
        connection.disconnect();
      }),
    );
  }

  /** The injected clock, or the Redis server's clock as estimated from the last TIME round trip. */
  now(): number {
    return this.clock ? this.clock() : Math.floor(Date.now() + this.offset);
  }

  // ---- conversations ----

  async openConversation(request: OpenRequest): Promise<OpenResult> {
    const reply = list(
      await this.run('open', [
        request.id,
        request.siteKey,
        request.ownerKey,
        request.visitorId,
        JSON.stringify(request.context),
        request.identity ? JSON.stringify(request.identity) : '',
        request.replace ? '1' : '',
        this.emptyTtlMs,
      ]),
    );
    return { created: num(reply[0]) === 1, conversation: toConversation(str(reply[1]), record(reply[2])) };
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const h = await this.command((r) => r.hgetall(this.key('conv:', id)));
    return Object.keys(h).length ? toConversation(id, h) : null;
  }

  async currentConversation(siteKey: string, ownerKey: string): Promise<string | null> {
    return this.command((r) => r.get(this.key('owner:', `${siteKey}:${ownerKey}`)));
  }

  /**
   * Optimistic: read the context and its version, merge in TypeScript (`mergeContextValue`, so the
   * limit and eviction rules live in one place), and write it with a script that checks the version
   * is unchanged and enqueues `context.updated` in the same step; on a version change, merge again.
   */
  async mergeContext(id: string, patch: VisitorContext, maxBytes: number, quiet = false): Promise<MergeResult | null> {
    return this.serial(id, async () => {
      for (let attempt = 0; attempt < MERGE_TRIES; attempt++) {
        const h = await this.command((r) => r.hgetall(this.key('conv:', id)));
        if (!Object.keys(h).length) return null;
        const merged = mergeContextValue(toConversation(id, h).context, patch, maxBytes);
        if (!merged.ok) return merged;
        const jobId = quiet ? '' : newId('evt_');
        const envelope = rest({ id: jobId, type: 'context.updated', conversationId: id });
        const reply = await this.run('merge', [id, h.ver ?? '0', JSON.stringify(merged.context), jobId, envelope]);
        if (reply === null) return null;
        if (Array.isArray(reply)) return { ok: true, conversation: toConversation(id, record(reply)) };
        // Another instance merged in between: back off a little, with jitter, and merge again.
        await sleep(Math.random() * Math.min(50, 2 ** attempt));
      }
      throw new Error(`RedisEngine: the context of ${id} kept changing; ${MERGE_TRIES} merges lost the race.`);
    });
  }

  async setIdentity(id: string, identity: ConversationIdentity): Promise<Conversation | null> {
    const reply = await this.run('identity', [id, JSON.stringify(identity)]);
    return reply === null ? null : toConversation(id, record(reply));
  }

  async adoptConversation(request: AdoptRequest): Promise<AdoptResult> {
    const jobId = identifiedJobId(request.id, request.ownerKey);
    const envelope = rest({ id: jobId, type: 'visitor.identified', conversationId: request.id });
    const reply = await this.run('adopt', [request.id, request.siteKey, request.fromOwnerKey, request.ownerKey, JSON.stringify(request.identity), jobId, envelope]);
    if (!Array.isArray(reply)) return { status: 'refused' };
    const linkedId = str(reply[0]);
    return { status: 'adopted', conversation: toConversation(request.id, record(reply[1])), ...(linkedId ? { linkedId } : {}) };
  }

  async setReadSeq(id: string, seq: number): Promise<number | null> {
    const reply = await this.run('readSeq', [id, String(seq)]);
    return reply === null ? null : num(reply);
  }

  async setPeerReadSeq(id: string, seq: number): Promise<number | null> {
    const reply = await this.run('peerReadSeq', [id, String(seq)]);
    return reply === null ? null : num(reply);
  }

  async listConversations(siteKey: string, page: ListRequest): Promise<ConversationPage> {
    const after = listPositionOf(page.cursor);
    const reply = list(await this.run('list', [siteKey, pageLimit(page.limit), after ? String(after.createdAt) : '', after?.key ?? '']));
    const conversations: Conversation[] = [];
    for (let i = 2; i + 1 < reply.length; i += 2) conversations.push(toConversation(str(reply[i]), record(reply[i + 1])));
    const next = str(reply[0]);
    return { conversations, nextCursor: next ? encodeListCursor({ createdAt: num(reply[1]), key: next }) : null };
  }

  async ownerConversations(siteKey: string, ownerKey: string, limit: number): Promise<OwnedConversation[]> {
    if (limit < 1) return [];
    const reply = list(await this.run('owned', [siteKey, ownerKey, Math.floor(limit), PREVIEW_SCAN]));
    return reply.map((row) => {
      const [id, at, closed, lastSeq, last] = list(row);
      return { id: str(id), createdAt: num(at), closed: str(closed) === '1', lastSeq: num(lastSeq), last: last ? parse<MessageEntry>(str(last)) : null };
    });
  }

  async countConversations(): Promise<number> {
    return this.command((r) => r.zcard(this.key('sweep')));
  }

  // ---- log ----

  async append(request: AppendRequest): Promise<AppendResult | null> {
    const { conversationId: id, entry, retention } = request;
    const webhook = request.webhook && entry.kind === 'msg' ? request.webhook : '';
    // A message's JSON is sent once: the script writes the entry from it when the entry holds nothing else.
    const message = entry.kind === 'msg' ? rest({ id: entry.id, from: entry.from, body: entry.body }) : '';
    const plain = entry.kind === 'msg' && onlyMessageFields(entry);
    const args: (string | number)[] = [
      id,
      entry.id,
      plain ? '' : rest({ ...entry, seq: undefined, ts: undefined }),
      Math.max(1, Math.floor(retention.maxMessages)),
      Math.max(0, Math.floor(retention.maxAgeMs)),
      dedupeWindow(retention),
      webhook,
      request.start ? '1' : '',
      entry.kind === 'event' && entry.event.type === 'closed' ? '1' : '',
      message,
    ];
    if (args.length !== APPEND_ARGS) throw new Error(`append: ${args.length} script arguments, not ${APPEND_ARGS}`);
    // (JSON escapes the separator; ids are checked where they come in, and here once more.)
    if (id.includes(FIELD_SEPARATOR) || entry.id.includes(FIELD_SEPARATOR)) throw new Error('append: an id holds a control character');
    const joined = args.join(FIELD_SEPARATOR);
    this.appending.set(id, (this.appending.get(id) ?? 0) + 1);
    try {
      const reply = await this.appends.add([joined]);
      if (reply === null) return null;
      if (typeof reply !== 'string') {
        // A duplicate: {1, seq, ts, its stored entry JSON (nil once trimmed)}.
        const [, seq, ts, json] = list(reply);
        return { duplicate: true, seq: num(seq), ts: num(ts), entry: json === null || json === undefined ? null : parse<LogEntry>(str(json)) };
      }
      // Stored as given, with its seq and ts: the reply does not carry it back.
      const [seq, ts, queued, published] = reply.split(',');
      const head = num(queued);
      // A plain message as a literal of one shape (the spread's keys, in its order), not a copy of whatever shape it came in.
      const stored: LogEntry = plain ? { kind: 'msg', id: entry.id, from: entry.from, body: entry.body, seq: num(seq), ts: num(ts) } : { ...entry, seq: num(seq), ts: num(ts) };
      this.deliverHere(id, stored, published === '1');
      // One shape for every result (a spread of a choice would make each its own).
      const result: AppendResult = { duplicate: false, seq: stored.seq, ts: stored.ts, entry: stored };
      if (head >= 0) result.queuedHead = head === 1;
      return result;
    } finally {
      const left = Math.max(0, (this.appending.get(id) ?? 1) - 1);
      this.appending.set(id, left);
      if (left === 0) {
        const topic = this.topics.get(conversationTopic(id));
        if (topic) topic.early = undefined;
        if (++this.appendingIdle >= APPENDING_IDLE) {
          this.appendingIdle = 0;
          for (const [conversation, count] of this.appending) if (count === 0) this.appending.delete(conversation);
        }
      }
    }
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse> {
    const reply = list(await this.run('read', [conversationId, Math.max(0, Math.floor(afterSeq)), Math.max(0, Math.floor(limit))]));
    return { lastSeq: num(reply[0]), hasMore: num(reply[1]) === 1, entries: reply.slice(2).map((json) => parse<LogEntry>(str(json))) };
  }

  // ---- streamed answers ----

  async startStream(request: StreamStartRequest): Promise<StreamStartResult | null> {
    const { conversationId: id } = request;
    const reply = await this.run('streamStart', [id, request.id, JSON.stringify(request.from), dedupeWindow(request.retention), keepOf(request.keepMs), draftHead(id)]);
    if (reply === null) return null;
    const r = list(reply);
    if (str(r[0]) === 'ended') return { status: 'ended', seq: num(r[1]), ts: num(r[2]), entry: entryOrNull(r[3]) };
    const stream: StreamSnapshot = { conversationId: id, id: request.id, from: parse<Sender>(str(r[2])), text: str(r[3]), startedAt: num(r[4]), updatedAt: num(r[5]) };
    return { status: 'open', created: num(r[1]) === 1, stream };
  }

  async appendStream(request: StreamDeltaRequest): Promise<StreamDeltaResult | null> {
    const { conversationId: id } = request;
    const reply = await this.run('streamDelta', [
      id,
      request.id,
      Math.max(0, Math.floor(request.offset)),
      request.text,
      request.text.length,
      dedupeWindow(request.retention),
      keepOf(request.keepMs),
      MAX_STREAM_LENGTH,
      draftHead(id),
    ]);
    if (reply === null) return null;
    const r = list(reply);
    const status = str(r[0]);
    if (status === 'ok') return { status, length: num(r[1]), appended: num(r[2]) === 1 };
    if (status === 'gap' || status === 'too-long') return { status, length: num(r[1]) };
    if (status === 'ended' || status === 'not-found') return { status };
    return fail(`stream delta answered ${status}`);
  }

  async openStreams(conversationId: string): Promise<StreamSnapshot[]> {
    const r = list(await this.run('streamsOpen', [conversationId]));
    const out: StreamSnapshot[] = [];
    for (let i = 0; i + 4 < r.length; i += 5) {
      out.push({ conversationId, id: str(r[i]), from: parse<Sender>(str(r[i + 1])), text: str(r[i + 2]), startedAt: num(r[i + 3]), updatedAt: num(r[i + 4]) });
    }
    // A set has no order: oldest first, ties by id.
    return out.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async stalledStreams(stallMs: number, limit: number): Promise<StreamRef[]> {
    const r = list(await this.run('streamsStalled', [Math.max(0, Math.floor(stallMs)), Math.max(0, Math.floor(limit))]));
    return r.map((member) => {
      const m = str(member);
      const at = m.indexOf(':');
      return { conversationId: m.slice(0, at), id: m.slice(at + 1) };
    });
  }

  async endStream(request: StreamEndRequest): Promise<StreamEndResult | null> {
    const { conversationId: id, retention } = request;
    const [before, after] = bodyAround(request);
    const reply = await this.run('streamEnd', [
      id,
      request.id,
      Math.max(1, Math.floor(retention.maxMessages)),
      Math.max(0, Math.floor(retention.maxAgeMs)),
      dedupeWindow(retention),
      request.abort ? '1' : '',
      !request.abort && request.text !== undefined ? '1' : '',
      request.text ?? '',
      before,
      after,
      request.stalledMs === undefined ? '' : Math.max(0, Math.floor(request.stalledMs)),
      NOTHING_ARRIVED,
    ]);
    if (reply === null) return null;
    const r = list(reply);
    const status = str(r[0]);
    if (status === 'dup') return { status: 'ended', duplicate: true, seq: num(r[1]), ts: num(r[2]), entry: entryOrNull(r[3]) };
    if (status === 'ended') return { status, duplicate: false, seq: num(r[1]), ts: num(r[2]), entry: parse<LogEntry>(str(r[3])) };
    if (status === 'not-found' || status === 'active' || status === 'empty') return { status };
    return fail(`stream end answered ${status}`);
  }

  // ---- feedback ----

  async enqueueFeedback(request: FeedbackRequest): Promise<FeedbackResult | null> {
    const { conversationId: id } = request;
    const jobId = webhookJobId(id, request.id, 'message.feedback');
    const data = { messageId: request.messageId, value: request.value, ...(request.comment !== undefined ? { comment: request.comment } : {}) };
    const reply = await this.run('feedback', [
      id,
      jobId,
      request.messageId,
      dedupeWindow(request.retention),
      JSON.stringify(data),
      rest({ id: jobId, type: 'message.feedback', conversationId: id }),
      FEEDBACK_DEDUPE,
    ]);
    if (reply === null) return null;
    const result = str(reply);
    return result === 'queued' || result === 'duplicate' || result === 'not-found' ? result : fail(`feedback answered ${result}`);
  }

  /**
   * Drop expired entries and forget idle conversations (those with an empty log idle past their max
   * age, and those never appended to, `emptyConversationTtlMs` after they were opened), in batches.
   * Runs on a timer on every instance (each batch is one script, so instances do not step on each
   * other). Returns how many conversations it looked at.
   */
  async sweep(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 50; round++) {
      const handled = num(await this.run('sweep', [SWEEP_BATCH]));
      total += handled;
      if (handled < SWEEP_BATCH) break;
    }
    return total;
  }

  // ---- fan-out ----

  async publish(item: TransientItem): Promise<void> {
    await this.command((r) => r.publish(this.prefix + topicOf(item), JSON.stringify(item)));
  }

  async subscribe(topic: string, listener: (item: FanoutItem) => void): Promise<() => void> {
    const sub = this.sub;
    if (!sub || sub.status !== 'ready') throw new EngineUnavailableError();
    let entry = this.topics.get(topic);
    if (!entry) {
      entry = { subs: new Set(), here: undefined, early: undefined, head: undefined };
      this.topics.set(topic, entry);
      // A conversation's channel is registered too (ls:), so other instances publish to it. Both
      // are live before the caller reads the log: what is appended before that is in the log.
      const conversation = conversationOf(topic);
      const pending = Promise.all([sub.subscribe(this.prefix + topic), conversation === undefined ? undefined : this.registration('listen', [conversation])]);
      this.subscribing.set(topic, pending);
      const forget = (): void => {
        if (this.subscribing.get(topic) === pending) this.subscribing.delete(topic);
      };
      pending.then(forget, forget);
    }
    const here = entry;
    const subscribers = here.subs;
    const own: Subscription = { listener };
    subscribers.add(own);
    try {
      await this.subscribing.get(topic);
    } catch (error) {
      subscribers.delete(own);
      if (subscribers.size === 0 && this.topics.get(topic) === here) {
        this.topics.delete(topic);
        // The SUBSCRIBE may have gone through where the registration failed.
        if (sub === this.sub && sub.status === 'ready') sub.unsubscribe(this.prefix + topic).catch(noop);
      }
      throw this.failure(error);
    }
    return () => {
      if (!subscribers.delete(own)) return;
      if (subscribers.size > 0 || this.topics.get(topic) !== here) return;
      this.topics.delete(topic);
      const conversation = conversationOf(topic);
      // (A registration left behind only makes other instances publish what nobody here reads.)
      if (conversation !== undefined) this.registration('unlisten', [conversation]).catch(noop);
      if (sub === this.sub && sub.status === 'ready') sub.unsubscribe(this.prefix + topic).catch(noop);
    };
  }

  /** The conversations whose channels this instance listens to. */
  private listened(): string[] {
    return [...this.topics.keys()].flatMap((topic) => conversationOf(topic) ?? []);
  }

  /** Register (`listen`) or unregister (`unlisten`) this instance on these conversations' channels (ls:), in calls of at most HEARTBEAT_BATCH. */
  private async registration(script: 'listen' | 'unlisten', conversations: string[]): Promise<void> {
    const head = script === 'listen' ? [this.instance, this.instanceTtlMs] : [this.instance];
    for (let i = 0; i < conversations.length; i += HEARTBEAT_BATCH) {
      await this.run(script, [...head, ...conversations.slice(i, i + HEARTBEAT_BATCH)]);
    }
  }

  /**
   * Register every conversation channel this instance listens to again: Redis may have lost the
   * registrations (its data, or this instance's liveness key lapsed and another instance dropped
   * them). A failure leaves `relisten` set, and the next heartbeat tries again.
   */
  private async listenAll(): Promise<void> {
    this.relisten = true;
    await this.registration('listen', this.listened());
    this.relisten = false;
  }

  /** `listenAll`, then tell the conversations' listeners to read what was not published to them meanwhile. */
  private async listenAgain(): Promise<void> {
    await this.listenAll();
    for (const [name, topic] of this.topics) {
      if (conversationOf(name) === undefined) continue;
      for (const { listener } of [...topic.subs]) this.call(listener, { kind: 'resync' });
    }
  }

  /** After the subscriber connection came back: subscribe every topic again, then tell every listener to read what it missed. */
  private async resubscribe(sub: Redis): Promise<void> {
    const channels = [...this.topics.keys()].map((topic) => this.prefix + topic);
    try {
      if (channels.length) await sub.subscribe(...channels);
    } catch {
      return; // dropped again: the next 'ready' tries again
    }
    // Redis may have restarted without its data (on a failure the next heartbeat registers again,
    // and tells the listeners to read the log then).
    await this.listenAll().catch(noop);
    for (const topic of this.topics.values()) {
      // Copies published while the connection was down are gone: none is waited for.
      topic.here = undefined;
      for (const { listener } of [...topic.subs]) this.call(listener, { kind: 'resync' });
    }
  }

  /**
   * An entry this instance just stored goes to its listeners here, as the append's reply arrives,
   * unless its published copy came first: the sender's `ack` and its own `msg` then leave in one
   * write. The append publishes the entry only when another instance listens (`ls:`); that copy is
   * dropped unread when it comes back here.
   */
  private deliverHere(conversationId: string, entry: LogEntry, published: boolean): void {
    const topic = this.topics.get(conversationTopic(conversationId));
    if (!topic?.subs.size) return;
    const { seq } = entry;
    if (topic.early) {
      const came = topic.early.delete(seq);
      // Replies come in commit order: no reply of a lower seq is still to come.
      for (const s of topic.early) if (s < seq) topic.early.delete(s);
      if (came) return;
    }
    if (published) (topic.here ??= new Set()).add(seq);
    const item: FanoutItem = { kind: 'entry', conversationId, entry };
    // (A copy of several: a listener may unsubscribe while they are called.)
    if (topic.subs.size === 1) for (const { listener } of topic.subs) this.call(listener, item);
    else for (const { listener } of [...topic.subs]) this.call(listener, item);
  }

  private receive(channel: string, message: Buffer): void {
    if (!channel.startsWith(this.prefix)) return;
    const name = channel.slice(this.prefix.length);
    const topic = this.topics.get(name);
    if (!topic?.subs.size) return;
    const set = topic.subs;
    const id = conversationOf(name);
    const appending = id !== undefined && (this.appending.get(id) ?? 0) > 0;
    if (id !== undefined && (topic.here || appending)) {
      const seq = publishedSeq(message, (topic.head ??= Buffer.from(entryHead(id) + '{"seq":')));
      if (topic.here?.delete(seq)) {
        // Published in commit order: a copy of a lower seq still missing was lost (a reconnect).
        for (const s of topic.here) if (s < seq) topic.here.delete(s);
        if (topic.here.size === 0) topic.here = undefined;
        return;
      }
      if (seq > 0 && appending) (topic.early ??= new Set()).add(seq);
    }
    let item: FanoutItem;
    try {
      item = parse<FanoutItem>(message.toString());
    } catch (error) {
      this.onListenerError(error);
      return;
    }
    for (const { listener } of [...set]) this.call(listener, item);
  }

  private call(listener: (item: FanoutItem) => void, item: FanoutItem): void {
    try {
      listener(item);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  // ---- shared limits ----

  async takeToken(key: string, rate: Rate): Promise<boolean> {
    return num(await this.run('token', [key, rate.perSecond, rate.burst])) === 1;
  }

  async acquireSlot(key: string, cap: number): Promise<boolean> {
    const instance = this.instance;
    const ok = num(await this.run('acquire', [key, Math.floor(cap), instance, this.instanceTtlMs])) === 1;
    if (ok && instance === this.instance) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    return ok;
  }

  async releaseSlot(key: string): Promise<void> {
    const held = this.held.get(key) ?? 0;
    if (held > 1) this.held.set(key, held - 1);
    else this.held.delete(key);
    try {
      await this.run('release', [key, this.instance]);
    } catch (error) {
      if (!isEngineUnavailable(error)) throw error;
      this.unreleased.set(key, (this.unreleased.get(key) ?? 0) + 1);
    }
  }

  /** While this instance holds slots: renew its liveness and their keys. Then retry the releases that failed. */
  private async heartbeat(): Promise<void> {
    const keys = [...this.held.keys()];
    let alive = true;
    for (let i = 0; i === 0 || i < keys.length; i += HEARTBEAT_BATCH) {
      const had = await this.run('heartbeat', [this.instance, this.instanceTtlMs, ...keys.slice(i, i + HEARTBEAT_BATCH)]);
      if (i === 0) alive = num(had) === 1;
    }
    // The liveness key had lapsed (a long stall, or Redis lost it): other instances may have dropped
    // this one's registrations.
    if (!alive || this.relisten) await this.listenAgain();
    for (const [key, count] of [...this.unreleased]) {
      // Taken out first, so an overlapping heartbeat cannot release the same slots twice.
      this.unreleased.delete(key);
      let done = 0;
      try {
        for (; done < count; done++) await this.run('release', [key, this.instance]);
      } finally {
        if (done < count) this.unreleased.set(key, (this.unreleased.get(key) ?? 0) + count - done);
      }
    }
  }

  // ---- site state ----

  async getOnline(siteKey: string): Promise<boolean | null> {
    const value = await this.command((r) => r.hget(this.key('online'), siteKey));
    return value === null ? null : value === '1';
  }

  async setOnline(siteKey: string, online: boolean): Promise<void> {
    await this.command((r) => r.hset(this.key('online'), siteKey, online ? '1' : '0'));
  }

  async revokeVisitor(siteKey: string, visitorId: string, at: number, keepMs: number): Promise<void> {
    // One key per visitor, expiring with the last token it could refuse; the mark only moves forward.
    await this.run('revoke', [`${siteKey}:${visitorId}`, Math.floor(at), Math.max(1, Math.ceil(keepMs))]);
  }

  async visitorRevokedAt(siteKey: string, visitorId: string): Promise<number | null> {
    const value = await this.command((r) => r.get(this.key(`revoked:${siteKey}:${visitorId}`)));
    const match = value === null ? null : /^(\d+),(\d+)$/.exec(value);
    if (!match) return null;
    // Redis expires the key on its own clock; an injected clock (tests) is honoured too.
    if (this.clock && Number(match[2]) <= this.clock()) return null;
    return Number(match[1]);
  }

  // ---- webhook queue ----

  async claimWebhooks(max: number, leaseMs: number): Promise<ClaimedJob[]> {
    // Leases of this claim: `<base>.<n>`, unique to this instance (its id) and to the claim.
    const base = `${this.instance}.${++this.claims}`;
    const [now, until, ...jobs] = list(await this.run('claim', [Math.max(0, Math.floor(max)), Math.max(0, Math.floor(leaseMs)), base]));
    const lastAttemptAt = num(now);
    const leaseUntil = num(until);
    return jobs.map((job) => new RedisClaimedJob(str(job).split(FIELD_SEPARATOR), lastAttemptAt, leaseUntil));
  }

  async nextWebhookAt(): Promise<number | null> {
    const reply = await this.run('nextAt', []);
    return reply === null ? null : num(reply);
  }

  async completeWebhook(id: string, lease: string): Promise<boolean> {
    return (await this.completions.add([id, lease])) === '1';
  }

  async retryWebhook(id: string, lease: string, delayMs: number, error: JobError): Promise<boolean> {
    return num(await this.run('retry', [id, lease, Math.max(0, Math.floor(delayMs)), JSON.stringify(error)])) === 1;
  }

  async deadLetter(id: string, lease: string, error: JobError): Promise<boolean> {
    return num(await this.run('dead', [id, lease, JSON.stringify(error), this.maxDeadLetters])) === 1;
  }

  async listDeadLetters(siteKey: string): Promise<DeadLetter[]> {
    const letters = await this.command((r) => r.lrange(this.key('dead:', siteKey), 0, -1));
    return letters.map((json) => parse<DeadLetter>(json));
  }

  // ---- plumbing ----

  private key(kind: string, id = ''): string {
    return this.prefix + kind + id;
  }

  /** Run one command on the command connection; EngineUnavailableError at once when it is not connected. */
  private async command<T>(send: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = this.cmd;
    if (!redis || redis.status !== 'ready') throw new EngineUnavailableError();
    try {
      return await send(redis);
    } catch (error) {
      throw this.failure(error);
    }
  }

  /**
   * The start of an EVALSHA of script `name`: its SHA, no keys, then what every script reads first,
   * the key prefix and the time ('' for the server's).
   */
  private lead(name: ScriptName): (string | number)[] {
    return [SCRIPTS[name].sha, 0, this.prefix, this.clock ? String(Math.floor(this.clock())) : ''];
  }

  /** Run a script with these arguments (after the ones every script reads first). */
  private run(name: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    const all = this.lead(name);
    for (const arg of args) all.push(arg);
    return this.evalScript(name, all);
  }

  /**
   * Run a script by its SHA (`all` as `lead` starts it), loading it on NOSCRIPT (a restarted server
   * has an empty script cache). One array for the whole command: ioredis copies it once.
   */
  private evalScript(name: ScriptName, all: (string | number)[]): Promise<unknown> {
    return this.command(async (redis) => {
      try {
        return await redis.call('evalsha', all);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return redis.call('eval', [SCRIPTS[name].lua, ...all.slice(1)]);
        throw error;
      }
    });
  }

  /** Connection failures and "not now" replies become EngineUnavailableError; script errors stay what they are. */
  private failure(error: unknown): unknown {
    if (isEngineUnavailable(error) || !(error instanceof Error)) return error;
    if (error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message)) return error;
    return Object.assign(new EngineUnavailableError(`The relay cannot reach Redis right now (${error.message}); retry.`), { cause: error });
  }

  private async serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.merging.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.then(noop, noop);
    this.merging.set(key, tail);
    void tail.then(() => {
      if (this.merging.get(key) === tail) this.merging.delete(key);
    });
    return run;
  }

  private async measureOffset(): Promise<void> {
    if (this.clock) return;
    const before = Date.now();
    const [seconds, micros] = list(await this.command((r) => r.time()));
    const after = Date.now();
    this.offset = num(seconds) * 1000 + Math.floor(num(micros) / 1000) - (before + after) / 2;
  }
}

/** The engine for several relay instances on one Redis server. */
export function createRedisEngine(options: RedisEngineOptions): RedisEngine {
  return new RedisEngine(options);
}

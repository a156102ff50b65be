// The Parley agent console: plain DOM, no framework, no inline code (it runs under a
// strict CSP). Text from visitors is only ever set with textContent.
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var state = null;
  var selectedId = decodeURIComponent(location.hash.slice(1)) || null;
  var entries = []; // the selected conversation's transcript
  var typingOn = false;
  var typingTimer = null;
  var readSent = {}; // conversation id -> the highest seq this console marked read

  // ---- helpers ----

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      if (k === 'text') node.textContent = props[k];
      else if (k === 'className') node.className = props[k];
      else if (k.indexOf('data-') === 0 || k.indexOf('aria-') === 0) node.setAttribute(k, props[k]);
      else node[k] = props[k];
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function safeLink(url, text) {
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return el('span', { text: text });
    return el('a', { href: url, text: text, target: '_blank', rel: 'noopener noreferrer' });
  }

  function time(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function showError(message) {
    $('error').textContent = message || '';
  }

  function api(method, path, body) {
    var init = { method: method, headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error((data.error && data.error.code ? data.error.code + ': ' : '') + (data.error ? data.error.message : 'HTTP ' + res.status));
        return data;
      });
    });
  }

  function newId() {
    return 'msg_' + (crypto.randomUUID ? crypto.randomUUID().replace(/-/g, '') : String(Date.now()) + Math.random().toString(36).slice(2));
  }

  function visitorName(c) {
    if (c.identity) return c.identity.name || c.identity.email || c.identity.userId;
    return 'Visitor ' + c.visitorId.slice(-6);
  }

  function statusText(c) {
    if (c.status === 'waiting') return 'Waiting' + (c.position ? ' #' + c.position : '');
    if (c.status === 'agent') return 'With ' + (c.agent || 'an agent');
    if (c.status === 'closed') return 'Closed';
    return 'Bot';
  }

  function selected() {
    if (!state || !selectedId) return null;
    for (var i = 0; i < state.conversations.length; i++) if (state.conversations[i].id === selectedId) return state.conversations[i];
    return null;
  }

  // ---- rendering ----

  function renderList() {
    var open = $('conversations');
    var closed = $('closed-conversations');
    open.textContent = '';
    closed.textContent = '';
    state.conversations.forEach(function (c) {
      var page = c.context && c.context.page;
      var button = el('button', {
        type: 'button',
        'data-conversation-id': c.id,
        'data-status': c.status,
        'aria-pressed': String(c.id === selectedId),
      }, [
        el('span', { className: 'badge ' + c.status, text: statusText(c) }),
        el('span', { className: 'who', text: visitorName(c) }),
        c.identity ? el('span', { className: c.identity.verified ? 'verified' : 'unverified', text: c.identity.verified ? ' ✓' : ' (unverified)' }) : null,
        el('span', { className: 'where', text: (c.context && c.context.product ? c.context.product.title + ' · ' : '') + (page && (page.title || page.url) || '') }),
        c.visitorTyping ? el('span', { className: 'typing', text: 'typing…' }) : el('span', { className: 'preview', text: c.preview || '' }),
      ]);
      button.addEventListener('click', function () { select(c.id); });
      (c.status === 'closed' ? closed : open).appendChild(el('li', null, [button]));
    });
    $('no-conversations').hidden = open.children.length > 0;
  }

  function renderContext(c) {
    var dl = $('context');
    dl.textContent = '';
    function row(label, value) {
      dl.appendChild(el('dt', { text: label }));
      dl.appendChild(el('dd', null, [typeof value === 'string' ? document.createTextNode(value) : value]));
    }
    var ctx = c.context || {};
    var page = ctx.page;
    row('Page', page && page.url ? safeLink(page.url, page.title || page.url) : el('span', { text: 'unknown' }));
    if (ctx.product) row('Product viewed', ctx.product.url ? safeLink(ctx.product.url, ctx.product.title + (ctx.product.price ? ' — ' + ctx.product.price : '')) : ctx.product.title);
    if (c.identity) {
      var who = [c.identity.name, c.identity.email, c.identity.userId].filter(Boolean).join(' · ');
      row('Identity', el('span', null, [
        document.createTextNode(who + ' '),
        el('strong', { className: c.identity.verified ? 'verified' : 'unverified', text: c.identity.verified ? 'verified' : 'not verified' }),
      ]));
    } else {
      row('Identity', 'anonymous visitor (not verified)');
    }
    if (c.linkedConversationId) {
      // The user signed in mid-chat while another conversation of theirs was open: both stay open.
      var linked = el('button', { type: 'button', className: 'link', text: 'Open the other conversation', 'data-linked-id': c.linkedConversationId });
      linked.addEventListener('click', function () { select(c.linkedConversationId); });
      row('Also open', linked);
    }
    row('Language', c.locale === 'zh-CN' ? '中文 (zh-CN)' : 'English');
    if (page && page.referrer) row('Came from', safeLink(page.referrer, page.referrer));
    if (ctx.attrs) Object.keys(ctx.attrs).forEach(function (k) { row(k, String(ctx.attrs[k])); });
  }

  function renderConversation() {
    var c = selected();
    $('empty-selection').hidden = !!c;
    $('conversation').hidden = !c;
    if (!c) return;
    $('conversation-title').textContent = visitorName(c);
    $('conversation-status').textContent = statusText(c) + ' · started ' + time(c.createdAt);
    $('conversation-id').textContent = c.id;
    $('agent-name').textContent = state.agent.name || 'the agent';
    $('take').disabled = c.status === 'agent' || c.status === 'closed';
    $('close-rate').disabled = c.status === 'closed';
    $('reply').disabled = c.status === 'closed';
    $('send').disabled = c.status === 'closed';
    $('attach').disabled = c.status === 'closed';
    $('visitor-typing').hidden = !c.visitorTyping;
    renderContext(c);
  }

  var ROLE = { visitor: 'Visitor', bot: 'Bot', agent: 'Agent', system: 'System' };
  var THUMB = { up: '👍 Helpful', down: '👎 Not helpful' };

  function feedbackFor(messageId) {
    if (!state || !state.feedback) return null;
    for (var i = 0; i < state.feedback.length; i++) if (state.feedback[i].messageId === messageId && state.feedback[i].conversationId === selectedId) return state.feedback[i];
    return null;
  }

  function sourceNodes(body) {
    if (!body.sources || !body.sources.length) return [];
    return [el('ul', { className: 'sources', 'aria-label': 'Sources' }, body.sources.map(function (s) { return el('li', null, [safeLink(s.url, s.title)]); }))];
  }

  function bodyNodes(body) {
    switch (body.type) {
      case 'text':
        return [el('p', { text: body.text })].concat(sourceNodes(body));
      case 'quick_replies':
        return [el('p', { text: body.text })].concat(sourceNodes(body), [el('div', { className: 'chips', 'aria-label': 'Buttons offered' }, body.replies.map(function (r) { return el('span', { text: r.label }); }))]);
      case 'card':
        return [el('div', { className: 'card' }, [
          el('strong', { text: body.title }),
          el('span', { text: [body.subtitle, body.price].filter(Boolean).join(' · ') }),
          body.url ? el('div', null, [safeLink(body.url, 'Open link')]) : null,
        ])];
      case 'postback':
        return [el('p', { text: 'Tapped “' + body.label + '”' })];
      case 'rating':
        return [el('p', null, [el('span', { className: 'stars', text: '★★★★★'.slice(0, body.score) + '☆☆☆☆☆'.slice(body.score) }), document.createTextNode(body.comment ? ' ' + body.comment : '')])];
      case 'contact':
        return [el('p', { text: 'Left a message (' + body.email + '): ' + body.text })];
      case 'file':
        // An image shows as itself (its name as the alt text), linked to the full size; another file as a link with its size.
        if (/^image\//i.test(body.mime) && /^https?:\/\//i.test(body.url)) {
          return [el('a', { href: body.url, target: '_blank', rel: 'noopener noreferrer' }, [el('img', { className: 'preview', src: body.url, alt: body.name })])];
        }
        return [el('p', null, [safeLink(body.url, body.name), document.createTextNode(' (' + Math.ceil(body.size / 1024) + ' KB)')])];
      default:
        return [el('p', { text: '[' + body.type + ']' })];
    }
  }

  function eventText(e) {
    switch (e.type) {
      case 'queue': return 'Queue position ' + e.position + ' sent';
      case 'agent_joined': return (e.agent.name || 'An agent') + ' joined';
      case 'agent_left': return (e.agent.name || 'The agent') + ' left';
      case 'handoff': return e.state === 'requested' ? 'Visitor asked for a human' : 'Handoff accepted';
      case 'rating_request': return 'Rating requested';
      case 'closed': return 'Conversation closed' + (e.reason ? ': ' + e.reason : '');
      default: return e.type;
    }
  }

  function entryNode(entry) {
    if (entry.kind === 'event') return el('li', { className: 'event', 'data-entry-id': entry.id, text: eventText(entry.event) + ' · ' + time(entry.ts) });
    var from = entry.from || { role: 'bot' };
    var ai = from.role === 'bot' && from.ai === true;
    var label = (from.name ? from.name + ' · ' : '') + (ai ? 'AI' : ROLE[from.role] || from.role) + ' · ' + time(entry.ts);
    var props = { className: 'msg', 'data-role': from.role, 'data-entry-id': entry.id };
    if (ai) props['data-ai'] = 'true';
    if (entry.incomplete) props['data-incomplete'] = 'true';
    var feedback = feedbackFor(entry.id);
    var notes = [];
    var c = selected();
    // An answer the visitor has read.
    if (from.role !== 'visitor' && c && entry.seq && entry.seq <= c.readSeq) {
      props['data-seen'] = 'true';
      notes.push(el('span', { className: 'note seen', text: 'Seen' }));
    }
    if (entry.incomplete) notes.push(el('span', { className: 'note incomplete', text: 'Incomplete: the answer stopped before it was finished' }));
    if (feedback) notes.push(el('span', { className: 'note feedback ' + feedback.value, 'data-feedback': feedback.value, text: THUMB[feedback.value] + (feedback.comment ? ' — “' + feedback.comment + '”' : '') }));
    return el('li', props, [el('span', { className: 'from', text: label })].concat(bodyNodes(entry.body), notes));
  }

  function renderTranscript() {
    var list = $('transcript');
    list.textContent = '';
    entries.forEach(function (e) { list.appendChild(entryNode(e)); });
    list.scrollTop = list.scrollHeight;
  }

  function addEntry(entry) {
    for (var i = 0; i < entries.length; i++) {
      if (entries[i].id === entry.id) {
        entries[i] = entry;
        return renderTranscript();
      }
    }
    entries.push(entry);
    var list = $('transcript');
    list.appendChild(entryNode(entry));
    list.scrollTop = list.scrollHeight;
    markRead();
  }

  /** The agent sees the open conversation: tell the visitor, whose messages then show "Read". */
  function markRead() {
    var c = selected();
    if (!c || document.visibilityState !== 'visible') return;
    var seq = 0;
    entries.forEach(function (e) { if (e.seq && e.seq > seq) seq = e.seq; });
    if (seq <= (readSent[c.id] || 0)) return;
    readSent[c.id] = seq;
    var id = c.id;
    api('POST', '/console/api/conversations/' + encodeURIComponent(id) + '/read', { seq: seq }).catch(function () {
      if (readSent[id] === seq) readSent[id] = 0; // tried again with the next look
    });
  }

  function renderSide() {
    var ratings = $('ratings');
    ratings.textContent = '';
    state.ratings.forEach(function (r) {
      ratings.appendChild(el('li', { 'data-rating-for': r.conversationId }, [
        el('span', { className: 'stars', text: '★★★★★'.slice(0, r.score) + '☆☆☆☆☆'.slice(r.score), 'aria-label': r.score + ' out of 5' }),
        document.createTextNode(' ' + r.score + '/5' + (r.agent ? ' for ' + r.agent : '') + (r.comment ? ' — ' + r.comment : '')),
      ]));
    });
    $('no-ratings').hidden = state.ratings.length > 0;
    var contacts = $('contacts');
    contacts.textContent = '';
    state.contacts.forEach(function (m) {
      contacts.appendChild(el('li', null, [
        el('strong', { text: m.email }),
        document.createTextNode(' · ' + time(m.ts) + (m.userId ? ' · ' + m.userId + (m.verified ? ' ✓' : ' (unverified)') : '')),
        el('div', { text: m.text }),
      ]));
    });
    $('no-contacts').hidden = state.contacts.length > 0;
    var feedback = $('feedback');
    feedback.textContent = '';
    (state.feedback || []).forEach(function (f) {
      var open = el('button', { type: 'button', className: 'link', text: 'Open conversation' });
      open.addEventListener('click', function () { select(f.conversationId); });
      feedback.appendChild(el('li', { 'data-feedback-for': f.messageId, 'data-value': f.value }, [
        el('strong', { className: 'thumb ' + f.value, text: THUMB[f.value] }),
        document.createTextNode(' · ' + time(f.ts)),
        f.comment ? el('div', { text: '“' + f.comment + '”' }) : null,
        f.answer ? el('div', { className: 'muted answer', text: f.answer }) : null,
        open,
      ]));
    });
    $('no-feedback').hidden = !!(state.feedback && state.feedback.length);
  }

  function renderAvailability() {
    var a = state.availability;
    $('availability').checked = a.switchOn;
    var text = a.online ? 'Online: visitors can ask for a human' : a.switchOn ? 'Offline: outside opening hours (' + a.openHours + ')' : 'Offline: visitors see the leave-a-message form';
    $('availability-status').textContent = text;
  }

  function render() {
    renderAvailability();
    renderList();
    renderConversation();
    renderSide();
  }

  // ---- actions ----

  function select(id) {
    selectedId = id;
    history.replaceState(null, '', '#' + encodeURIComponent(id));
    entries = [];
    showError('');
    render();
    renderTranscript();
    api('GET', '/console/api/conversations/' + encodeURIComponent(id)).then(function (data) {
      if (selectedId !== id) return;
      entries = data.entries;
      renderTranscript();
      markRead();
      if (data.historyError) showError('Showing what this backend saw; the relay history failed (' + data.historyError + ').');
    }, function (err) { showError(err.message); });
  }

  function act(path, body) {
    showError('');
    return api('POST', '/console/api/conversations/' + encodeURIComponent(selectedId) + path, body || {}).catch(function (err) {
      showError(err.message);
      throw err;
    });
  }

  function setTyping(on) {
    if (typingOn === on || !selectedId) return;
    typingOn = on;
    act('/typing', { on: on }).catch(function () {});
  }

  $('take').addEventListener('click', function () { act('/take').catch(function () {}); });
  $('close-rate').addEventListener('click', function () { act('/close').catch(function () {}); });

  $('reply').addEventListener('input', function () {
    clearTimeout(typingTimer);
    if (!$('reply').value) return setTyping(false);
    setTyping(true);
    typingTimer = setTimeout(function () { setTyping(false); }, 3000);
  });

  $('reply').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('reply-form').requestSubmit();
    }
  });

  $('reply-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('reply').value.trim();
    if (!text || !selectedId) return;
    clearTimeout(typingTimer);
    $('send').disabled = true;
    act('/messages', { id: newId(), text: text }).then(function (entry) {
      $('reply').value = '';
      addEntry(entry);
      setTyping(false);
    }, function () {}).then(function () {
      var c = selected();
      $('send').disabled = !!c && c.status === 'closed';
      $('reply').focus();
    });
  });

  // The agent attaches a file: this backend keeps it and sends it to the visitor as the agent.
  $('attach').addEventListener('change', function () {
    var file = $('attach').files[0];
    if (!file || !selectedId) return;
    showError('');
    $('attach').disabled = true;
    fetch('/console/api/conversations/' + encodeURIComponent(selectedId) + '/files', {
      method: 'POST',
      headers: { 'content-type': file.type || 'application/octet-stream', 'x-file-name': encodeURIComponent(file.name) },
      body: file,
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error((data.error && data.error.code ? data.error.code + ': ' : '') + (data.error ? data.error.message : 'HTTP ' + res.status));
        addEntry(data);
      });
    }).catch(function (err) { showError(err.message); }).then(function () {
      $('attach').value = '';
      var c = selected();
      $('attach').disabled = !!c && c.status === 'closed';
    });
  });

  $('availability').addEventListener('change', function () {
    var online = $('availability').checked;
    api('POST', '/console/api/availability', { online: online }).catch(function (err) {
      $('availability').checked = !online;
      $('availability-status').textContent = err.message;
    });
  });

  // ---- live updates ----

  function connect() {
    var source = new EventSource('/console/events');
    source.addEventListener('open', function () { $('connection').textContent = 'Live'; });
    source.addEventListener('error', function () { $('connection').textContent = 'Reconnecting…'; });
    source.addEventListener('state', function (e) {
      var first = state === null;
      var feedbackBefore = state && JSON.stringify(state.feedback);
      var seenBefore = selected() && selected().readSeq;
      state = JSON.parse(e.data);
      render();
      // New feedback marks an answer in the open transcript; so does the visitor reading it.
      if (!first && (JSON.stringify(state.feedback) !== feedbackBefore || (selected() && selected().readSeq) !== seenBefore)) renderTranscript();
      if (first && selectedId && selected()) select(selectedId);
    });
    source.addEventListener('entry', function (e) {
      var data = JSON.parse(e.data);
      if (data.conversationId === selectedId) addEntry(data.entry);
    });
  }

  document.addEventListener('visibilitychange', markRead);

  connect();
})();

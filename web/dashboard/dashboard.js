// Postrider's dashboard: reads the HTTP API with the token the user gave
// (kept in this tab's session storage), redraws its views every few seconds,
// and follows the event stream for the graph and the event list.
'use strict';

const $ = (sel) => document.querySelector(sel);
const KINDS = ['received', 'delivered', 'deferred', 'bounced'];
const state = { token: sessionStorage.getItem('postrider-token') || '', plot: null, data: null, start: 0, stream: null, timer: null };

function text(value) {
  return document.createTextNode(value === undefined || value === null ? '' : String(value));
}

function row(cells, opts = {}) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.appendChild(c);
    else td.appendChild(text(c));
    tr.appendChild(td);
  }
  if (opts.className) tr.className = opts.className;
  return tr;
}

function fill(tableSel, rows) {
  const body = $(`${tableSel} tbody`);
  body.replaceChildren(...rows);
}

async function api(path, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const res = await fetch(`/api/v1/${path}`, { ...init, headers });
  if (res.status === 401) {
    logout(state.token ? 'the token was refused' : '');
    throw new Error('unauthorized');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function age(seconds) {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86400).toFixed(1)}d`;
}

// ---- throughput graph ----

function drawThroughput(series) {
  state.start = series.start;
  const xs = series.received.map((_, i) => series.start + i);
  state.data = [xs, ...KINDS.map((k) => series[k].slice())];
  const el = $('#throughput');
  const width = Math.max(280, el.clientWidth || 600);
  if (!state.plot) {
    state.plot = new uPlot({
      width,
      height: 200,
      series: [{}, ...KINDS.map((k, i) => ({ label: k, stroke: ['#2b6cb0', '#2f855a', '#b7791f', '#c53030'][i], width: 1.5 }))],
      axes: [{}, { label: 'msg/s' }],
    }, state.data, el);
    window.addEventListener('resize', () => state.plot.setSize({ width: Math.max(280, el.clientWidth), height: 200 }));
  } else state.plot.setData(state.data);
  showTotals();
}

function showTotals() {
  const sums = KINDS.map((k, i) => `${k} ${state.data[i + 1].reduce((a, b) => a + b, 0)}`);
  $('#totals').textContent = `last hour: ${sums.join(', ')}`;
}

/** Moves the graph's window on to the current second. */
function advance() {
  if (!state.data) return;
  const now = Math.floor(Date.now() / 1000);
  const xs = state.data[0];
  while (xs[xs.length - 1] < now) {
    xs.push(xs[xs.length - 1] + 1);
    xs.shift();
    for (let k = 1; k < state.data.length; k++) {
      state.data[k].push(0);
      state.data[k].shift();
    }
  }
}

/** An event counted into the graph's current second. */
function countEvent(type) {
  const i = KINDS.indexOf(type);
  if (i < 0 || !state.data) return;
  advance();
  state.data[i + 1][state.data[0].length - 1]++;
}

// ---- views ----

async function refreshStatus() {
  const st = await api('status');
  $('#host').textContent = `pid ${st.pid}, up ${age(st.uptimeSeconds)}`;
  const q = st.queue || {};
  const cards = ['incoming', 'active', 'deferred', 'hold', 'corrupt'].map((k) => {
    const d = document.createElement('div');
    d.className = 'card';
    d.dataset.state = k;
    const b = document.createElement('b');
    b.textContent = q[k] ?? '-';
    d.append(b, text(k));
    return d;
  });
  $('#queue-states').replaceChildren(...cards);
  fill('#actors', (st.actors || []).map((a) => row([a.role, a.instance, a.service ?? '', a.state, a.threadId || '', a.cpuSeconds?.toFixed(2) ?? '', `${Math.round((a.load || 0) * 100)}%`, a.restarts, age(a.uptimeSeconds)])));
}

async function refreshQueue() {
  const list = await api('queue?limit=1000');
  const now = Date.now() / 1000;
  const buckets = [['< 5m', 300], ['< 1h', 3600], ['< 1d', 86400], ['older', Infinity]].map(([label, max]) => ({ label, max, n: 0 }));
  const reasons = new Map();
  for (const m of list.messages) {
    const a = now - m.arrival_time;
    buckets.find((b) => a < b.max).n++;
    for (const r of m.recipients) if (r.delay_reason) reasons.set(r.delay_reason, (reasons.get(r.delay_reason) || 0) + 1);
  }
  fill('#queue-ages', buckets.map((b) => row([b.label, b.n])));
  const grouped = [...reasons.entries()].sort((x, y) => y[1] - x[1]).slice(0, 20);
  fill('#reasons', grouped.map(([reason, n]) => {
    const tr = row([n, reason]);
    tr.lastChild.className = 'reason';
    return tr;
  }));
}

async function refreshDestinations() {
  const d = await api('destinations');
  const dests = d.destinations.sort((a, b) => b.active + b.queued - (a.active + a.queued)).slice(0, 30);
  fill('#destinations', dests.map((x) => {
    const stateCell = document.createElement('span');
    stateCell.textContent = x.dead ? 'dead' : 'alive';
    if (x.dead) stateCell.className = 'dead';
    const tr = row([x.transport, x.nexthop, x.active, `${x.window}/${x.limit}`, x.queued, stateCell, x.lastError ? x.lastError.reason : '']);
    tr.lastChild.className = 'reason';
    return tr;
  }));
  fill('#domains', d.domains.slice(0, 30).map((x) => row([x.domain || '(none)', x.active, x.deferred, x.hold])));
}

async function refreshMessages() {
  const q = $('#search-text').value.trim();
  const st = $('#search-state').value;
  const params = new URLSearchParams({ limit: '100' });
  if (st) params.set('state', st);
  let list;
  if (q.includes('@') || q === '') {
    if (q) params.set('recipient', q);
    list = await api(`queue?${params}`);
    if (q && list.total === 0) {
      params.delete('recipient');
      params.set('sender', q);
      list = await api(`queue?${params}`);
    }
  } else {
    params.set('destination', q);
    list = await api(`queue?${params}`);
  }
  fill('#messages', list.messages.map((m) => {
    const actions = document.createElement('span');
    const acts = m.queue_name === 'hold' ? ['release', 'delete'] : ['hold', 'requeue', 'delete'];
    for (const act of acts) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = act;
      b.dataset.action = act;
      b.dataset.id = m.queue_id;
      b.addEventListener('click', () => act === 'delete' && !confirm(`Delete ${m.queue_id}?`) ? undefined : void actOn(m.queue_id, act));
      actions.appendChild(b);
    }
    const tr = row([m.queue_id, m.queue_name, new Date(m.arrival_time * 1000).toLocaleString(), m.message_size, m.sender, m.recipients.map((r) => r.address).join(', '), actions]);
    tr.dataset.id = m.queue_id;
    tr.dataset.state = m.queue_name;
    tr.children[5].className = 'wrap';
    return tr;
  }));
  $('#message-count').textContent = `${list.total} message${list.total === 1 ? '' : 's'}`;
}

async function actOn(id, act) {
  const path = act === 'delete' ? `queue/${id}` : `queue/${id}/${act}`;
  await api(path, { method: act === 'delete' ? 'DELETE' : 'POST' });
  await Promise.all([refreshMessages(), refreshStatus()]);
}

function addEventLine(e) {
  const li = document.createElement('li');
  li.textContent = `${e.time} ${e.type} ${e.queueId ?? ''} ${e.to ?? e.from ?? e.actor ?? ''} ${e.reason ?? ''}`;
  li.dataset.type = e.type;
  const list = $('#events');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

// ---- the event stream (fetch, so the token goes in a header) ----

async function follow() {
  const ctrl = new AbortController();
  state.stream = ctrl;
  try {
    const res = await fetch('/api/v1/events', { headers: state.token ? { authorization: `Bearer ${state.token}` } : {}, signal: ctrl.signal });
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = chunk.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const e = JSON.parse(data.slice(6));
        countEvent(e.type);
        addEventLine(e);
      }
    }
  } catch {
    // aborted at logout, or the daemon went away: try again shortly
  }
  if (state.stream === ctrl) setTimeout(follow, 2000);
}

// ---- login ----

function logout(why) {
  sessionStorage.removeItem('postrider-token');
  state.token = '';
  state.stream?.abort();
  state.stream = null;
  clearInterval(state.timer);
  $('#app').hidden = true;
  $('#logout').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = why || '';
}

async function enter() {
  try {
    await api('status');
  } catch (err) {
    if (err.message !== 'unauthorized') logout(err.message);
    return;
  }
  $('#login').hidden = true;
  $('#login-error').textContent = '';
  $('#app').hidden = false;
  $('#logout').hidden = false;
  drawThroughput(await api('throughput'));
  const all = () => Promise.allSettled([refreshStatus(), refreshQueue(), refreshDestinations()]);
  await Promise.allSettled([all(), refreshMessages()]);
  // The queue views walk the whole queue on the server: every 10 s, where status and the graph move every 2 s.
  let ticks = 0;
  state.timer = setInterval(() => {
    if (++ticks % 5 === 0) void all();
    else void refreshStatus().catch(() => undefined);
    if (state.plot && state.data) {
      advance();
      state.plot.setData(state.data);
      showTotals();
    }
  }, 2000);
  void follow();
}

$('#login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('#token').value.trim();
  sessionStorage.setItem('postrider-token', state.token);
  void enter();
});
$('#logout').addEventListener('click', () => logout(''));
$('#search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void refreshMessages();
});

// A token kept from earlier in this tab, or an API without tokens (loopback only): straight in.
void enter();

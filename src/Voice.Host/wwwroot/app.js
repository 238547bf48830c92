// VoiceBridge's dashboard: plain JavaScript, no build step. Every value from the server goes into the page as text
// (textContent), never as markup. Requests carry the session cookie; changes also carry the session's CSRF token.
'use strict';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let csrf = null;
let events = null;
const listeners = new Set();

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: { Accept: 'application/json' }, ...options };
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (init.method && init.method !== 'GET' && csrf) init.headers['X-CSRF-Token'] = csrf;
  const response = await fetch(path, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (response.status === 401 && !path.startsWith('/auth/')) {
    signedOut();
    throw new Error('signed out');
  }
  if (!response.ok) {
    const error = new Error(json.message || json.detail || response.statusText);
    error.status = response.status;
    error.body = json;
    throw error;
  }
  return json;
}

function when(value) {
  return value ? new Date(value).toLocaleString() : '';
}

function stateBadge(state) {
  return h('span', { class: `state ${state}`, 'data-state': state }, state);
}

function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}

function show(...children) {
  main.replaceChildren(...children);
}

function failure(error) {
  const detail = error.body && error.body.errors
    ? Object.entries(error.body.errors).map(([field, reasons]) => `${field}: ${reasons.join(', ')}`).join('; ')
    : error.message;
  return h('p', { class: 'error', role: 'alert' }, detail);
}

// ---- signing in -------------------------------------------------------------------------------------------------
function signedOut() {
  csrf = null;
  if (events) { events.close(); events = null; }
  delete document.body.dataset.live;
  nav.hidden = true;
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const key = h('input', { type: 'password', name: 'apiKey', id: 'api-key', autocomplete: 'current-password', required: true });
  const form = h('form', { method: 'post', action: '/auth/login' },
    h('label', { for: 'api-key' }, 'API key', key),
    h('button', { type: 'submit' }, 'Sign in'),
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const session = await api('/auth/login', { method: 'POST', body: { apiKey: key.value } });
      csrf = session.csrfToken;
      signedIn();
    } catch (error) {
      message.textContent = error.status === 401 ? 'That API key is not valid.' : error.message;
      message.hidden = false;
    }
  });
  show(h('section', { class: 'sign-in' }, h('h2', {}, 'Sign in'),
    h('p', { class: 'note' }, 'Use one of VoiceBridge\'s API keys (API_KEYS, or the generated key in data/api-key).'), form));
}

function signedIn() {
  nav.hidden = false;
  if (!events) {
    events = new EventSource('/api/events');
    // Connected (again): what changed while the stream was down is read afresh, and the page says it is live.
    let connectedBefore = false;
    events.addEventListener('open', () => {
      document.body.dataset.live = 'connected';
      if (connectedBefore) route();
      connectedBefore = true;
    });
    events.addEventListener('error', () => { document.body.dataset.live = 'reconnecting'; });
    events.addEventListener('state', (event) => {
      const change = JSON.parse(event.data);
      for (const listener of listeners) listener(change);
    });
  }
  route();
}

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('/auth/logout', { method: 'POST' }); } finally { signedOut(); }
});

// ---- pages ------------------------------------------------------------------------------------------------------
function route() {
  listeners.clear();
  const hash = location.hash || '#/';
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', link.getAttribute('href') === hash);
  const detail = hash.match(/^#\/call\/(.+)$/);
  if (detail) return callPage(decodeURIComponent(detail[1]));
  const dial = hash.match(/^#\/dial\/(.+)$/);
  if (dial) return callBack(decodeURIComponent(dial[1]));
  if (hash.startsWith('#/history')) return historyPage(new URLSearchParams(hash.split('?')[1] || ''));
  if (hash === '#/stats') return statsPage();
  if (hash === '#/agents') return agentsPage();
  return livePage();
}

window.addEventListener('hashchange', () => { if (csrf) route(); });

function callRow(call) {
  return h('tr', { dataset: { callId: call.callId } },
    h('td', { 'data-label': 'Started' }, when(call.createdAt)),
    h('td', { 'data-label': 'To' }, call.destination ? `${call.agent} → ${call.destination}` : call.to),
    h('td', { 'data-label': 'State', class: 'call-state' }, stateBadge(call.state)),
    h('td', { 'data-label': 'Reason' }, call.reason || ''),
    h('td', { 'data-label': '' }, h('a', { href: `#/call/${encodeURIComponent(call.callId)}` }, 'Details')));
}

function callTable(rows, extra) {
  return h('table', { class: 'responsive' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'To'), h('th', {}, 'State'), h('th', {}, 'Reason'), h('th', {}, ''), extra ? h('th', {}, '') : null)),
    h('tbody', {}, rows));
}

function clickToCallForm(agents, presetTo) {
  const result = h('div', { id: 'click-result' });
  const agentField = h('input', { name: 'agent', id: 'ctc-agent', list: 'agent-list', required: true, value: localStorage.getItem('vb-agent') || '' });
  const toField = h('input', { name: 'to', id: 'ctc-to', required: true, value: presetTo || '', placeholder: '+15551234567' });
  const record = h('input', { type: 'checkbox', name: 'record', id: 'ctc-record' });
  const form = h('form', { class: 'inline', id: 'click-to-call' },
    h('label', { for: 'ctc-agent' }, 'Agent', agentField),
    h('datalist', { id: 'agent-list' }, agents.map(a => h('option', { value: a.extension }, a.name || a.extension))),
    h('label', { for: 'ctc-to' }, 'Number', toField),
    h('label', { for: 'ctc-record' }, 'Record', record),
    h('button', { type: 'submit' }, 'Call'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    localStorage.setItem('vb-agent', agentField.value);
    try {
      const placed = await api('/api/click-to-call', { method: 'POST', body: { agent: agentField.value, to: toField.value, record: record.checked } });
      result.replaceChildren(h('p', {}, 'Calling: ', h('a', { href: `#/call/${encodeURIComponent(placed.callId)}` }, placed.callId)));
    } catch (error) {
      result.replaceChildren(failure(error));
    }
  });
  return h('div', {}, form, result);
}

function agentsTable(agents) {
  return h('table', { class: 'responsive', id: 'agents' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Extension'), h('th', {}, 'Name'), h('th', {}, 'Status'), h('th', {}, 'Today'))),
    h('tbody', {}, agents.map(a => h('tr', { dataset: { agent: a.extension } },
      h('td', { 'data-label': 'Extension' }, a.extension),
      h('td', { 'data-label': 'Name' }, a.name || ''),
      h('td', { 'data-label': 'Status', class: a.available ? 'free' : 'busy' },
        a.available ? 'available' : h('a', { href: `#/call/${encodeURIComponent(a.callId || '')}` }, 'in a call')),
      h('td', { 'data-label': 'Today' }, `${a.today.calls} calls, ${a.today.connected} connected`)))));
}

async function livePage() {
  const [active, agents] = await Promise.all([api('/api/calls'), api('/api/agents')]);
  const body = h('tbody', {}, active.calls.map(callRow));
  const agentsHolder = h('div', {}, agentsTable(agents.agents));
  show(
    section('Active calls', h('table', { class: 'responsive', id: 'live-calls' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'To'), h('th', {}, 'State'), h('th', {}, 'Reason'), h('th', {}, ''))), body),
      h('p', { class: 'note' }, 'Updates as calls change; ended calls stay until you leave the page.')),
    section('Click to call', clickToCallForm(agents.agents)),
    section('Agents', agentsHolder));
  let refreshing = null;
  listeners.add(async (change) => {
    let row = body.querySelector(`tr[data-call-id="${CSS.escape(change.callId)}"]`);
    if (!row) {
      row = callRow({ callId: change.callId, createdAt: change.at, to: change.to, state: change.state, agent: change.agent, destination: change.destination });
      body.prepend(row);
    }
    row.querySelector('.call-state').replaceChildren(stateBadge(change.state));
    row.children[3].textContent = change.reason || '';
    // The way it went, on hover: queued → dialing → ringing → …
    row.dataset.states = row.dataset.states ? `${row.dataset.states} ${change.state}` : change.state;
    row.title = row.dataset.states.split(' ').join(' → ');
    if (!refreshing) {
      refreshing = setTimeout(async () => {
        refreshing = null;
        agentsHolder.replaceChildren(agentsTable((await api('/api/agents')).agents));
      }, 200);
    }
  });
}

async function historyPage(query) {
  const params = new URLSearchParams();
  for (const name of ['state', 'to', 'from', 'until', 'cursor']) if (query.get(name)) params.set(name, query.get(name));
  params.set('limit', '20');
  const page = await api(`/api/calls?${params}`);
  const field = (name, label, attrs) => h('label', { for: `f-${name}` }, label, h('input', { id: `f-${name}`, name, value: query.get(name) || '', ...attrs }));
  const filters = h('form', { class: 'inline', id: 'filters' },
    h('label', { for: 'f-state' }, 'State', h('select', { id: 'f-state', name: 'state' },
      ['', 'queued', 'dialing', 'ringing', 'playing', 'completed', 'failed'].map(s => h('option', { value: s, selected: s === (query.get('state') || '') }, s || 'any')))),
    field('to', 'To', { placeholder: '+1555…' }),
    field('from', 'From', { type: 'date' }),
    field('until', 'Until', { type: 'date' }),
    h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(filters)) if (value) chosen.set(name, value);
    location.hash = `#/history?${chosen}`;
  });
  const rows = page.calls.map(call => {
    const row = callRow(call);
    const number = call.destination || call.to;
    row.append(h('td', { 'data-label': '' }, h('button', {
      type: 'button', class: 'secondary call-back', onclick: () => { location.hash = `#/dial/${encodeURIComponent(number)}`; },
    }, 'Call')));
    return row;
  });
  const next = page.next
    ? h('a', { href: `#/history?${new URLSearchParams({ ...Object.fromEntries(query), cursor: page.next })}`, id: 'next-page' }, 'Older calls')
    : h('p', { class: 'note' }, 'No older calls.');
  show(section('History', filters, callTable(rows, true), next));
}

async function callBack(number) {
  const agents = await api('/api/agents');
  show(section('Click to call', clickToCallForm(agents.agents, number)), section('Agents', agentsTable(agents.agents)));
}

function definition(term, value) {
  return [h('dt', {}, term), h('dd', {}, value === null || value === undefined || value === '' ? '—' : value)];
}

async function callPage(callId) {
  let call;
  try {
    call = await api(`/api/call/${encodeURIComponent(callId)}`);
  } catch (error) {
    show(section('Call', failure(error)));
    return;
  }
  const timeline = await api(`/api/call/${encodeURIComponent(callId)}/timeline`);
  const parts = [
    section(`Call ${call.callId}`, h('dl', { id: 'call-facts' },
      definition('State', stateBadge(call.state)),
      definition('Reason', call.reason),
      definition('Detail', call.detail),
      definition('SIP status', call.sipStatus),
      definition('To', call.to),
      definition('Agent', call.agent),
      definition('Destination', call.destination),
      definition('Caller ID', call.callerId),
      definition('Started', when(call.createdAt)),
      definition('Answered', when(call.answeredAt)),
      definition('Ended', when(call.endedAt)),
      definition('Duration', call.duration === null || call.duration === undefined ? null : `${call.duration} s`),
      definition('Digits', call.digits),
      definition('Simulated', call.simulated ? 'yes' : 'no'))),
    section('Timeline', h('ol', { class: 'timeline', id: 'timeline' },
      timeline.timeline.map(t => h('li', {}, stateBadge(t.state), ` ${when(t.at)}`, t.reason ? ` (${t.reason})` : '')))),
  ];
  const dials = call.results && call.results.dials;
  if (dials && dials.length) {
    parts.push(section('Legs dialled', h('table', { class: 'responsive' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Number'), h('th', {}, 'Outcome'), h('th', {}, 'SIP'), h('th', {}, 'Ended by'))),
      h('tbody', {}, dials.map(d => h('tr', {},
        h('td', { 'data-label': 'Number' }, d.target), h('td', { 'data-label': 'Outcome' }, d.outcome),
        h('td', { 'data-label': 'SIP' }, d.sipStatus ?? ''), h('td', { 'data-label': 'Ended by' }, d.endedBy || '')))))));
  }
  if (call.recordings && call.recordings.length) {
    parts.push(section('Recording', call.recordings.map(r => r.available
      ? h('div', {}, h('audio', { controls: true, preload: 'metadata', src: r.url, id: `recording-${r.part}` }),
        h('p', { class: 'note' }, `Part ${r.part}: ${(r.durationMs / 1000).toFixed(1)} s, ${r.mixType} (the far end left, the call's audio right). `,
          h('a', { href: r.url, download: `${call.callId}-${r.part}.wav` }, 'Download')))
      : h('p', { class: 'note' }, `Part ${r.part}: ${r.status}${r.detail ? ` — ${r.detail}` : ''}`))));
  }
  if (call.webhooks) {
    parts.push(section('Webhook deliveries', h('table', { class: 'responsive', id: 'webhooks' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Status'), h('th', {}, 'Attempts'), h('th', {}, 'Last answer'))),
      h('tbody', {}, call.webhooks.deliveries.map(w => h('tr', {},
        h('td', { 'data-label': 'Event' }, w.event), h('td', { 'data-label': 'Status' }, w.status),
        h('td', { 'data-label': 'Attempts' }, w.attempts), h('td', { 'data-label': 'Last answer' }, w.lastHttpStatus ?? w.lastError ?? '')))))));
  }
  show(...parts);
  listeners.add((change) => { if (change.callId === callId) callPage(callId); });
}

async function statsPage() {
  const [daily, totals] = await Promise.all([api('/api/stats/daily?days=30'), api('/api/stats')]);
  const max = Math.max(1, ...daily.days.map(d => d.calls));
  const width = 100 / daily.days.length;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 100 60');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Calls per day, the last 30 days');
  svg.id = 'calls-per-day';
  daily.days.forEach((d, i) => {
    const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    const height = (d.calls / max) * 55;
    rect.setAttribute('x', String(i * width + width * 0.1));
    rect.setAttribute('width', String(width * 0.8));
    rect.setAttribute('y', String(58 - height));
    rect.setAttribute('height', String(height));
    rect.dataset.day = d.day;
    rect.dataset.calls = String(d.calls);
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `${d.day}: ${d.calls} calls`;
    rect.append(title);
    svg.append(rect);
  });
  // Each row's bar is its share of the year's busiest row.
  const counts = (rows, key, label, id) => {
    const most = Math.max(1, ...rows.map(r => r.year));
    return h('table', { class: 'responsive', id },
      h('thead', {}, h('tr', {}, h('th', {}, label), h('th', {}, 'This year'), h('th', {}, 'Today'), h('th', {}, 'Week'), h('th', {}, 'Month'), h('th', {}, 'Year'))),
      h('tbody', {}, rows.map(r => h('tr', {},
        h('td', { 'data-label': label }, r[key] || '(none)'),
        h('td', { 'data-label': 'This year', class: 'bar-cell' }, h('span', { class: 'bar', style: null, dataset: { share: String(r.year / most) } })),
        h('td', { 'data-label': 'Today' }, r.today), h('td', { 'data-label': 'Week' }, r.week),
        h('td', { 'data-label': 'Month' }, r.month), h('td', { 'data-label': 'Year' }, r.year)))));
  };
  show(
    section('Calls per day', svg, h('p', { class: 'note', id: 'daily-total' },
      `${daily.days[0].day} to ${daily.days[daily.days.length - 1].day}: ${daily.days.reduce((sum, d) => sum + d.calls, 0)} calls in the last 30 days; today ${totals.total.today}, this week ${totals.total.week}, this month ${totals.total.month}, this year ${totals.total.year}.`)),
    section('By caller ID', counts(totals.byCallerId, 'callerId', 'Caller ID', 'by-caller-id')),
    section('By destination', counts(totals.byDestination, 'to', 'Destination', 'by-destination')));
  // Widths set through the DOM, not inline style attributes: the page's Content-Security-Policy allows no inline styles.
  for (const bar of document.querySelectorAll('.bar')) bar.style.width = `${Math.max(2, Number(bar.dataset.share) * 100)}%`;
}

async function agentsPage() {
  const agents = await api('/api/agents');
  show(section('Agents', agentsTable(agents.agents)), section('Click to call', clickToCallForm(agents.agents)));
  listeners.add(async () => { document.getElementById('agents').replaceWith(agentsTable((await api('/api/agents')).agents)); });
}

// ---- start --------------------------------------------------------------------------------------------------------
(async () => {
  try {
    const session = await api('/auth/session');
    csrf = session.csrfToken;
    signedIn();
  } catch {
    signedOut();
  }
})();

// The dashboard's state and its panels other than the fleet drawing: the header's totals, the
// events timeline in plain words, the upstream servers, and accepted/handed-off per second over
// the last minute. Rates are differences between consecutive snapshots, which /events sends once
// a second; per-worker rates are keyed by worker id, never pid (pids repeat across containers).
// Runs in the page: plain JavaScript in a string, since this project compiles without DOM types.
export const panelsScript = String.raw`
const HISTORY_SECONDS = 60;
const EVENTS_SHOWN = 6;
const history = { accepted: [], handedOff: [] };
let previous = null;
const $ = (id) => document.getElementById(id);
const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many);
/** A counter's growth since the last snapshot; 0 for the first, or when it went back (a wrap, a restart). */
const growth = (now, before) => (before === undefined ? 0 : Math.max(0, now - before));

function clock(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** One timeline entry in plain words: [kind for the marker, the first word, the rest]. */
function describeEvent(e) {
  switch (e.kind) {
    case 'worker-joined': {
      const w = e.worker;
      const where = (w.origin === 'spawned' ? 'spawned' : 'started on its own') + ' · gen ' + w.generation + ' · pid ' + w.pid + (w.host ? ' on ' + w.host : '');
      return ['joined', w.id + ' joined:', where + (e.idleReason ? '; idle: ' + e.idleReason : '')];
    }
    case 'worker-left':
      return ['left', e.worker.id + ' left:', e.why + ', ' + plural(e.resent, 'connection', 'connections') + ' re-sent to others'];
    case 'worker-failed-to-start':
      return ['left', 'a worker failed to start:', 'pid ' + e.pid + ': ' + e.why];
    case 'reload-done':
      return ['reload', 'reload:', 'now generation ' + e.generation + ': ' + plural(e.starting, 'worker', 'workers') + ' starting, ' + e.retiring + ' retiring'];
    case 'reload-refused':
      return ['refused', 'reload refused:', e.error + ' (still running the old configuration)'];
    default:
      return ['', e.kind, ''];
  }
}

function drawEvents(events) {
  $('events').innerHTML = events.slice(-EVENTS_SHOWN).reverse().map((e) => {
    const [kind, what, rest] = describeEvent(e);
    return '<li class="' + kind + '" data-kind="' + esc(e.kind) + '"><time>' + clock(e.at) + '</time><span><span class="what">' + esc(what) + '</span> ' + esc(rest) + '</span></li>';
  }).join('') || '<li><time></time><span>nothing yet</span></li>';
}

/**
 * Per-server figures come from the workers (each balances on its own) and are summed by the
 * master; a server no worker reported (workers older than protocol 4) shows "—". The servers are
 * the master's current members (they change with re-resolution); where the upstream has health
 * checks, their verdict, its reason and time come from the master's prober.
 */
function drawUpstreams(upstreams, before) {
  const old = new Map();
  for (const u of before ? before.upstreams : []) for (const s of u.servers) old.set(u.name + ' ' + s.address, s);
  const now = Date.now();
  let known = false;
  let checked = false;
  const rows = [];
  for (const u of upstreams) {
    const grew = u.servers.map((s) => (s.requests == null ? 0 : growth(s.requests, (old.get(u.name + ' ' + s.address) || {}).requests ?? undefined)));
    const recent = grew.reduce((a, b) => a + b, 0);
    const total = u.servers.reduce((a, s) => a + (s.requests || 0), 0);
    rows.push('<tr><td class="group" colspan="5">' + esc(u.name) + '</td></tr>');
    u.servers.forEach((s, i) => {
      const has = s.requests != null;
      known = known || has;
      // The last second's share while traffic flows; since the start when it is quiet.
      const share = !has ? '—' : recent > 0 ? Math.round((grew[i] / recent) * 100) + '%' : total > 0 ? Math.round((s.requests / total) * 100) + '%' : '0%';
      const down = has && s.downUntil > now;
      // The master's health checks outrank a worker's passive verdict: a server out by them gets nothing.
      const out = s.health && s.health.state === 'down';
      checked = checked || !!s.health;
      const state = out ? 'OUT: ' + s.health.reason + ' since ' + clock(s.health.since)
        : !has ? '—' : down ? 'DOWN ' + Math.ceil((s.downUntil - now) / 1000) + 's' : s.health ? 'up since ' + clock(s.health.since) : 'up';
      rows.push('<tr data-server="' + esc(s.address) + '"><td>' + esc(s.address) + '</td><td>' + s.weight + '</td><td class="share">' + share +
        '</td><td class="failures">' + (has ? s.failures : '—') + '</td><td class="' + (out ? 'down checked' : !has ? '' : down ? 'down' : 'up') + '">' + esc(state) + '</td></tr>');
    });
  }
  $('upstreams').innerHTML = rows.join('');
  $('upstream-note').textContent = (known ? 'share: of the last second · DOWN: skipped after failing' : 'per-server figures: not reported by these workers (older than protocol 4)') +
    (checked ? ' · OUT: its health checks fail, it gets no requests · up since: the checks\' last change' : '');
}

function drawChart() {
  const svg = $('chart');
  const width = Math.max(200, svg.clientWidth);
  const height = Math.max(80, svg.clientHeight);
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  const left = 84;
  const top = 8;
  const bottom = height - 26;
  const max = Math.max(1, ...history.accepted, ...history.handedOff);
  const step = (width - left - 8) / (HISTORY_SECONDS - 1);
  const x = (i, n) => left + (HISTORY_SECONDS - n + i) * step;
  const y = (v) => bottom - (v / max) * (bottom - top);
  const line = (values, colour, dash) => '<polyline fill="none" stroke="' + colour + '" stroke-width="4" stroke-linejoin="round"' + (dash ? ' stroke-dasharray="12 7"' : '') +
    ' points="' + values.map((v, i) => x(i, values.length).toFixed(1) + ',' + y(v).toFixed(1)).join(' ') + '"/>';
  const label = (lx, ly, text, anchor) => '<text x="' + lx + '" y="' + ly + '" font-size="18" fill="#4a5263" text-anchor="' + anchor + '">' + text + '</text>';
  svg.innerHTML =
    '<line x1="' + left + '" y1="' + top + '" x2="' + width + '" y2="' + top + '" stroke="#e1e4ea"/>' +
    '<line x1="' + left + '" y1="' + bottom + '" x2="' + width + '" y2="' + bottom + '" stroke="#8e96a5" stroke-width="2"/>' +
    label(left - 8, top + 14, max + '/s', 'end') + label(left - 8, bottom, '0', 'end') +
    label(left, height - 4, '60 s ago', 'start') + label(width - 4, height - 4, 'now', 'end') +
    line(history.accepted, '#1f5fc9', false) + line(history.handedOff, '#c2410c', true);
}

function update(s) {
  $('state').textContent = 'live';
  $('state').className = 'live';
  const m = s.master;
  $('policy').textContent = m.policy;
  $('listeners').textContent = m.listeners.join(', ');
  $('uptime').textContent = m.uptimeSeconds;
  for (const k of ['accepted', 'handedOff', 'resent', 'dropped']) $(k).textContent = s.counters[k];
  $('waiting').textContent = m.waiting;
  const before = new Map((previous ? previous.workers : []).map((w) => [w.id, w]));
  const workers = s.workers.map((w) => {
    const old = before.get(w.id) || {};
    return { ...w, rps: growth(w.requestsServed, old.requestsServed), hps: growth(w.handoffsSent, old.handoffsSent) };
  });
  const accepted = growth(s.counters.accepted, previous ? previous.counters.accepted : undefined);
  const handedOff = growth(s.counters.handedOff, previous ? previous.counters.handedOff : undefined);
  $('acceptedRate').textContent = accepted;
  $('handedOffRate').textContent = handedOff;
  if (previous) {
    history.accepted.push(accepted);
    history.handedOff.push(handedOff);
    if (history.accepted.length > HISTORY_SECONDS) { history.accepted.shift(); history.handedOff.shift(); }
  }
  drawTopology(m, workers);
  drawEvents(s.events);
  drawUpstreams(s.upstreams, previous);
  drawChart();
  previous = s;
}

const stream = new EventSource('/events');
stream.onmessage = (e) => update(JSON.parse(e.data));
stream.onerror = () => { $('state').textContent = 'reconnecting…'; $('state').className = 'lost'; };
`;

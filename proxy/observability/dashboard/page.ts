// The live dashboard: one self-contained page (no CDN, no build step) that reads /events and
// draws the master's counters, one row per worker, and requests per second over the last minute.
// Workers are keyed by their id ("w3"), never their pid: workers in other containers share pids.
export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Handoff — live</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  .sub { color: #5b6475; margin-bottom: 1.5rem; }
  .cards { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 1.5rem; }
  .card { background: #fff; border-radius: 8px; padding: .75rem 1rem; min-width: 8rem; box-shadow: 0 1px 2px #0002; }
  .card b { display: block; font-size: 1.5rem; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; margin-bottom: 1.5rem; }
  th, td { padding: .4rem .9rem; text-align: right; border-bottom: 1px solid #e6e8ec; }
  th:first-child, td:first-child { text-align: left; }
  .draining { color: #a0651a; }
  .idle { color: #8a8f99; }
  #state { font-weight: bold; }
  svg { background: #fff; box-shadow: 0 1px 2px #0002; border-radius: 8px; }
</style>
</head>
<body>
<h1>Handoff</h1>
<div class="sub">master <span id="pid">?</span> on <span id="host">?</span> · <span id="transport">?</span> · <span id="policy">?</span> · generation <span id="generation">?</span> · <span id="listeners">?</span> · up <span id="uptime">0</span> s · <span id="state">connecting…</span></div>
<div class="cards">
  <div class="card">accepted<b id="accepted">0</b></div>
  <div class="card">handed off<b id="handedOff">0</b></div>
  <div class="card">re-sent<b id="resent">0</b></div>
  <div class="card">dropped<b id="dropped">0</b></div>
  <div class="card">waiting<b id="waiting">0</b></div>
  <div class="card">req/s<b id="rps">0</b></div>
</div>
<table>
  <thead><tr><th>worker</th><th>pid</th><th>host</th><th>origin</th><th>generation</th><th>state</th><th>connections</th><th>in flight</th><th>requests</th><th>req/s</th></tr></thead>
  <tbody id="workers"></tbody>
</table>
<svg id="chart" width="600" height="160" viewBox="0 0 600 160" role="img" aria-label="requests per second, last 60 s"></svg>
<script>
  const history = [];
  let previous = null;
  const $ = (id) => document.getElementById(id);
  function draw() {
    const max = Math.max(1, ...history);
    const step = 600 / 59;
    const points = history.map((v, i) => (i * step).toFixed(1) + ',' + (150 - (v / max) * 140).toFixed(1)).join(' ');
    $('chart').innerHTML = '<text x="8" y="16" font-size="12" fill="#5b6475">req/s, last 60 s (max ' + max + ')</text>' +
      '<polyline fill="none" stroke="#2f6fde" stroke-width="2" points="' + points + '"/>';
  }
  function update(s) {
    $('state').textContent = 'live';
    const m = s.master;
    for (const k of ['pid', 'host', 'transport', 'policy', 'generation']) $(k).textContent = m[k];
    $('listeners').textContent = m.listeners.join(', ');
    $('uptime').textContent = m.uptimeSeconds;
    for (const k of ['accepted', 'handedOff', 'resent', 'dropped']) $(k).textContent = s.counters[k];
    $('waiting').textContent = m.waiting;
    const before = new Map((previous ? previous.workers : []).map((w) => [w.id, w.requestsServed]));
    const text = (v) => String(v).replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
    let total = 0;
    $('workers').innerHTML = s.workers.map((w) => {
      const rps = before.has(w.id) ? Math.max(0, w.requestsServed - before.get(w.id)) : 0;
      total += rps;
      const state = w.state === 'idle' ? 'idle: ' + w.idleReason : w.state;
      return '<tr class="' + w.state + '" data-id="' + text(w.id) + '" data-pid="' + w.pid + '"><td>' + text(w.id) + '</td><td>' + w.pid + '</td><td>' +
        text(w.host === null ? '?' : w.host) + '</td><td>' + w.origin + '</td><td>' + w.generation + '</td><td class="state">' + text(state) + '</td><td>' +
        w.activeConnections + '</td><td>' + w.inFlight + '</td><td class="requests">' + w.requestsServed + '</td><td>' + rps + '</td></tr>';
    }).join('');
    $('rps').textContent = total;
    history.push(total);
    if (history.length > 60) history.shift();
    previous = s;
    draw();
  }
  const events = new EventSource('/events');
  events.onmessage = (e) => update(JSON.parse(e.data));
  events.onerror = () => { $('state').textContent = 'reconnecting…'; };
</script>
</body>
</html>
`;

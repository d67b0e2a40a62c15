// The dashboard's drawing of the fleet (plain SVG, built as text): the master on the left, one
// box per container (workers grouped by the host they report) on the right, and a line from the
// master to each worker whose thickness and label say how many connections per second it is
// handed. Each worker card says in words what it is: id, spawned or joined, generation, state,
// open connections, connections in flight and requests per second.
// Runs in the page: plain JavaScript in a string, since this project compiles without DOM types.
export const topologyScript = String.raw`
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const STATE_COLOUR = { serving: '#126b2f', draining: '#8a5300', idle: '#5c6270', stalled: '#b3261e' };
const VIEW_WIDTH = 716;
const MASTER = { x: 4, width: 172 };
const GROUP = { x: 300, width: 412, header: 36, pad: 10 };
const CARD = { height: 68, gap: 10 };

/** "8c1f0e2a9b3d…" for a long container id (the start tells them apart), or any text cut to fit. */
function shortHost(text, max) {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/** Workers by the host they report, the master's own host first. */
function byHost(workers, masterHost) {
  const groups = new Map();
  for (const w of workers) {
    const host = w.host === null ? 'unknown host' : w.host;
    if (!groups.has(host)) groups.set(host, []);
    groups.get(host).push(w);
  }
  const num = (id) => Number(id.replace(/\D/g, ''));
  for (const list of groups.values()) list.sort((a, b) => num(a.id) - num(b.id));
  return [...groups.entries()].sort(([a], [b]) => (a === masterHost ? -1 : b === masterHost ? 1 : a < b ? -1 : 1));
}

function workerCard(w, x, y, width) {
  const state = w.state === 'idle' ? 'idle' : w.state;
  const colour = STATE_COLOUR[w.state] || '#5c6270';
  const faded = w.state === 'serving' ? '' : ' opacity="0.85"';
  return '<g class="worker" data-id="' + esc(w.id) + '" data-pid="' + w.pid + '" data-state="' + esc(w.state) + '"' + faded + '>' +
    '<rect x="' + x + '" y="' + y + '" width="' + width + '" height="' + CARD.height + '" rx="8" fill="#fff" stroke="' + colour + '" stroke-width="3"/>' +
    '<rect x="' + x + '" y="' + y + '" width="10" height="' + CARD.height + '" rx="4" fill="' + colour + '"/>' +
    '<text x="' + (x + 20) + '" y="' + (y + 27) + '" font-size="24" font-weight="bold">' + esc(w.id) + '</text>' +
    '<text x="' + (x + 70) + '" y="' + (y + 27) + '" font-size="20" fill="#4a5263">' + esc(w.origin) + ' · gen ' + w.generation + '</text>' +
    '<text class="state" x="' + (x + width - 10) + '" y="' + (y + 27) + '" font-size="20" font-weight="bold" text-anchor="end" fill="' + colour + '">' + esc(state) + '</text>' +
    (w.state === 'idle' && w.idleReason
      // An idle worker serves nothing: why matters more than its zeros (the full reason on hover).
      ? '<text x="' + (x + 20) + '" y="' + (y + 57) + '" font-size="20" fill="#5c6270">' + esc(shortHost(w.idleReason, 34)) + '</text>'
      : '<text x="' + (x + 20) + '" y="' + (y + 57) + '" font-size="20">' +
        '<tspan class="conns" font-weight="bold" font-size="24">' + w.activeConnections + '</tspan> conns  ' +
        '<tspan class="inflight" font-weight="bold" font-size="24">' + w.inFlight + '</tspan> in flight  ' +
        '<tspan class="rps" font-weight="bold" font-size="24">' + w.rps + '</tspan> req/s</text>') +
    (w.state === 'idle' && w.idleReason ? '<title>' + esc(w.idleReason) + '</title>' : '') +
    '</g>';
}

/**
 * The line a worker's handoffs flow along: thicker the more per second, still when none. With
 * reuseport the kernel, not the master, spreads connections: the line says so instead.
 */
function flowLine(id, from, to, perSecond, phaseMs, byKernel) {
  const width = perSecond === 0 ? 2 : Math.min(12, 3 + Math.log2(1 + perSecond) * 1.2);
  const midX = (from.x + to.x) / 2;
  const d = 'M' + from.x + ' ' + from.y + ' C' + midX + ' ' + from.y + ' ' + midX + ' ' + to.y + ' ' + to.x + ' ' + to.y;
  const colour = perSecond === 0 ? '#9aa1ad' : '#1f5fc9';
  const label = byKernel ? 'kernel' : perSecond + '/s';
  const pill = 20 + label.length * 14;
  // A negative delay keeps the dashes' phase steady although the SVG is rebuilt every second.
  const moving = perSecond === 0 ? '' : ' moving" style="animation-delay:-' + phaseMs + 'ms';
  return '<path d="' + d + '" fill="none" stroke="#dfe3ea" stroke-width="' + (width + 4) + '"/>' +
    '<path class="flow' + moving + '" d="' + d + '" fill="none" stroke="' + colour + '" stroke-width="' + width + '" stroke-dasharray="14 6"/>' +
    '<g class="handoffs-label"><rect x="' + (to.x - 12 - pill) + '" y="' + (to.y - 16) + '" width="' + pill + '" height="32" rx="16" fill="#fff" stroke="' + colour + '" stroke-width="2"/>' +
    '<text class="handoffs" data-for="' + esc(id) + '" x="' + (to.x - 12 - pill / 2) + '" y="' + (to.y + 8) + '" font-size="22" font-weight="bold" text-anchor="middle" fill="' + colour + '">' + label + '</text></g>';
}

function drawTopology(master, workers) {
  const groups = byHost(workers, master.host);
  const height = Math.max(300, groups.reduce((h, [, list]) => h + GROUP.header + GROUP.pad + list.length * (CARD.height + CARD.gap) + 10, 0));
  const svg = document.getElementById('topology');
  svg.setAttribute('viewBox', '0 0 ' + VIEW_WIDTH + ' ' + height);
  const masterBox = { y: height / 2 - 95, height: 190 };
  const out = [];
  const lines = [];
  const phase = Math.round(performance.now() % 1000);
  let y = 0;
  for (const [host, list] of groups) {
    const boxHeight = GROUP.header + list.length * (CARD.height + CARD.gap) + GROUP.pad;
    const mine = host === master.host;
    out.push('<g class="host" data-host="' + esc(host) + '">' +
      '<rect x="' + GROUP.x + '" y="' + y + '" width="' + GROUP.width + '" height="' + boxHeight + '" rx="10" fill="#f1f3f7" stroke="#8e96a5" stroke-width="2" stroke-dasharray="' + (mine ? '0' : '8 5') + '"/>' +
      '<text x="' + (GROUP.x + 12) + '" y="' + (y + 26) + '" font-size="20"><tspan font-weight="bold">host ' + esc(shortHost(host, 18)) + '</tspan>' +
      (mine ? '<tspan fill="#4a5263"> · the master' + "'" + 's</tspan>' : '') + '</text>');
    let cardY = y + GROUP.header;
    for (const w of list) {
      out.push(workerCard(w, GROUP.x + 10, cardY, GROUP.width - 20));
      lines.push(flowLine(w.id, { x: MASTER.x + MASTER.width, y: height / 2 }, { x: GROUP.x + 10, y: cardY + CARD.height / 2 }, w.hps, phase, master.transport === 'reuseport'));
      cardY += CARD.height + CARD.gap;
    }
    out.push('</g>');
    y += boxHeight + 10;
  }
  const mx = MASTER.x;
  const my = masterBox.y;
  const masterText = (dy, text, size, weight) => '<text x="' + (mx + 14) + '" y="' + (my + dy) + '" font-size="' + size + '"' + (weight ? ' font-weight="bold"' : '') + '>' + text + '</text>';
  const masterSvg = '<g class="master"><rect x="' + mx + '" y="' + my + '" width="' + MASTER.width + '" height="' + masterBox.height + '" rx="10" fill="#10141c"/>' +
    '<g fill="#fff">' + masterText(34, 'master', 28, true) + masterText(64, 'pid ' + master.pid, 20) + masterText(92, esc(shortHost(master.host, 14)), 20) +
    masterText(120, 'gen ' + master.generation, 20) + masterText(150, esc(master.transport), 20) +
    masterText(178, master.acceptPaused ? 'accept PAUSED' : (master.waiting > 0 ? master.waiting + ' waiting' : 'accepting'), 20, master.acceptPaused) + '</g></g>';
  const empty = workers.length === 0
    ? '<text x="' + GROUP.x + '" y="' + (height / 2) + '" font-size="24" fill="#b3261e" font-weight="bold">no workers registered</text>' : '';
  svg.innerHTML = lines.join('') + masterSvg + out.join('') + empty;
}
`;

// The live dashboard: one self-contained page (no CDN, no build step, no library) that reads
// /events once a second and draws the fleet for a projector: large type, dark on light, every
// state said in words as well as colour, and laid out to fit 1280×720 without scrolling for a
// few workers in a couple of containers. The scripts are in topology-script.ts (master →
// containers → workers, handoffs flowing) and panels-script.ts (everything else).
import { panelsScript } from './panels-script';
import { topologyScript } from './topology-script';

const style = `
  :root { --ink: #10141c; --muted: #4a5263; --line: #c9ced8; --panel: #ffffff; --bg: #e9ecf1;
          --serving: #126b2f; --draining: #8a5300; --idle: #5c6270; --bad: #b3261e; --accent: #1f5fc9; }
  * { box-sizing: border-box; }
  html, body { margin: 0; height: 100%; }
  body { font: 20px/1.3 "DejaVu Sans", system-ui, sans-serif; color: var(--ink); background: var(--bg);
         display: grid; gap: 10px; padding: 10px; height: 100vh; overflow: hidden;
         grid-template-columns: minmax(0, 57fr) minmax(0, 43fr); grid-template-rows: auto minmax(0, 1fr) 210px; }
  header { grid-column: 1 / 3; display: flex; align-items: center; gap: 24px; background: var(--ink); color: #fff;
           padding: 6px 16px; border-radius: 8px; }
  header h1 { font-size: 30px; margin: 0; letter-spacing: .02em; }
  header .sub { color: #d6dbe4; flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  header .totals { display: flex; gap: 18px; white-space: nowrap; }
  header .totals b { font-size: 26px; }
  #state { font-weight: bold; padding: 2px 10px; border-radius: 6px; background: #fff; color: var(--ink); white-space: nowrap; }
  #state.live { color: var(--serving); }
  #state.lost { color: var(--bad); }
  section { background: var(--panel); border-radius: 8px; border: 1px solid var(--line); padding: 8px 14px; min-height: 0; overflow: hidden; }
  section h2 { font-size: 22px; margin: 0 0 4px; }
  #fleet { padding: 4px; }
  #fleet svg, #rates svg { width: 100%; height: 100%; display: block; }
  #rates { display: flex; flex-direction: column; }
  #rates svg { flex: 1; min-height: 0; }
  .legend { display: flex; gap: 28px; align-items: baseline; white-space: nowrap; }
  .legend b { font-size: 28px; }
  .key { display: inline-block; width: 34px; height: 0; border-top: 5px solid; vertical-align: middle; margin-right: 6px; }
  .key.accepted { border-color: var(--accent); }
  .key.handed { border-color: #c2410c; border-top-style: dashed; }
  #events { list-style: none; margin: 0; padding: 0; }
  #events li { display: grid; grid-template-columns: 96px 1fr; gap: 0 10px; padding: 5px 0 5px 10px; border-left: 6px solid var(--line); margin-bottom: 5px; }
  #events time { color: var(--muted); font-variant-numeric: tabular-nums; }
  #events .what { font-weight: bold; }
  #events li.joined { border-color: var(--serving); }
  #events li.left { border-color: var(--bad); }
  #events li.reload { border-color: var(--accent); }
  #events li.refused { border-color: var(--draining); }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; font-variant-numeric: tabular-nums; }
  col.weight { width: 64px; }
  col.num { width: 66px; }
  col.state { width: 118px; }
  th { font-size: 18px; color: var(--muted); font-weight: normal; text-align: right; padding: 0 4px; }
  td { text-align: right; padding: 2px 4px; border-top: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  th:first-child, td:first-child { text-align: left; }
  td.group { font-weight: bold; border-top: none; padding-top: 4px; }
  td.down { color: var(--bad); font-weight: bold; }
  td.up { color: var(--serving); }
  .note { color: var(--muted); font-size: 18px; margin-top: 4px; }
  @keyframes flow { to { stroke-dashoffset: -40; } }
  .flow.moving { animation: flow 1s linear infinite; }
`;

export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Handoff — live</title>
<style>${style}</style>
</head>
<body>
<header>
  <h1>Handoff</h1>
  <div class="sub">up <span id="uptime">0</span> s · <span id="policy">?</span> · <span id="listeners">?</span></div>
  <div class="totals">
    <span>accepted <b id="accepted">0</b></span>
    <span>handed off <b id="handedOff">0</b></span>
    <span>re-sent <b id="resent">0</b></span>
    <span>dropped <b id="dropped">0</b></span>
    <span>waiting <b id="waiting">0</b></span>
  </div>
  <span id="state">connecting…</span>
</header>
<section id="fleet" aria-label="the master and its workers, by container">
  <svg id="topology" viewBox="0 0 716 400" preserveAspectRatio="xMidYMid meet" role="img"></svg>
</section>
<section id="timeline">
  <h2>Events, newest first</h2>
  <ol id="events"></ol>
</section>
<section id="rates">
  <div class="legend">
    <span><i class="key accepted"></i>accepted/s <b id="acceptedRate">0</b></span>
    <span><i class="key handed"></i>handed off/s <b id="handedOffRate">0</b></span>
    <span class="note">over the last 60 s</span>
  </div>
  <svg id="chart" viewBox="0 0 740 150" preserveAspectRatio="none" role="img" aria-label="accepted and handed off per second, last 60 s"></svg>
</section>
<section id="upstream-panel">
  <h2>Upstream servers</h2>
  <table><colgroup><col><col class="weight"><col class="num"><col class="num"><col class="state"></colgroup>
    <thead><tr><th>server</th><th>weight</th><th>share</th><th>failed</th><th>state</th></tr></thead><tbody id="upstreams"></tbody></table>
  <div class="note" id="upstream-note"></div>
</section>
<script>
${topologyScript}
${panelsScript}
</script>
</body>
</html>
`;

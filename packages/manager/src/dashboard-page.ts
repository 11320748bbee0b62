/**
 * The dashboard: one static page, inline CSS and JS, no build step. It follows `/v1/stream` with the
 * token typed in or given as `#token=…` and redraws on every snapshot and patch; everything is written with
 * textContent, so names from the API cannot inject markup.
 */
import { applyStatePatch } from './feed-patch.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Overlay manager</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2733; }
  header { background: #1d3557; color: #fff; padding: 10px 18px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header input { width: 260px; padding: 4px 6px; }
  #status { padding: 2px 8px; border-radius: 10px; background: #a33; color: #fff; font-weight: 600; }
  #status.up { background: #2a7a3b; color: #fff; }
  main { padding: 12px 18px; display: grid; gap: 16px; }
  section { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e7eb; vertical-align: top; }
  th { font-weight: 600; color: #4a5868; }
  .up { color: #2a7a3b; font-weight: 600; } .down { color: #b3261e; font-weight: 600; }
  .bar { display: inline-block; height: 10px; background: #457b9d; vertical-align: middle; margin-right: 6px; }
  .bar.hot { background: #e63946; }
  .rings { display: flex; gap: 3px; align-items: flex-end; height: 42px; }
  .rings span { width: 16px; background: #1d3557; display: inline-block; }
  .num { font-variant-numeric: tabular-nums; }
  .muted { color: #7a8794; }
</style>
</head>
<body>
<header>
  <h1>Overlay manager</h1>
  <label>Token <input id="token" type="password" autocomplete="off"></label>
  <button id="connect">Connect</button>
  <span id="status">disconnected</span>
  <span id="version" class="num"></span>
</header>
<main>
  <section><h2>Sites</h2><table id="sites"><thead><tr><th>Site</th><th>Domains</th><th>Mode</th><th>Front-ends</th><th>Back-ends</th><th>Origins</th><th>Priority rules</th><th>QoS target</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Gateways</h2><table id="gateways"><thead><tr><th>Gateway</th><th>Kind</th><th>POP</th><th>Health</th><th>Load</th><th>Last report</th><th>Addresses</th><th>Bytes per priority ring (0…4)</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Tunnels</h2><table id="tunnels"><thead><tr><th>From</th><th>To</th><th>State</th><th>RTT (ms)</th><th>Jitter (ms)</th><th>Loss</th><th>Throughput</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Ring weights</h2><div id="rings" class="num"></div></section>
  <section><h2>Capacity decisions</h2><table id="decisions"><thead><tr><th>Time</th><th>Site</th><th>Action</th><th>Gateway</th><th>Reason</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const tokenInput = $('token');
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  tokenInput.value = fromHash || sessionStorage.getItem('overlay-token') || '';
  let socket, retry = 500, retryTimer, decisionsTimer, state;
  // The feed's patches are applied by the very function the Node subscribers use (feed-patch.ts).
  const applyStatePatch = ${applyStatePatch.toString()};

  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    return td;
  }
  function fill(id, rows, draw) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    for (const item of rows) draw(body.insertRow(), item);
    if (rows.length === 0) cell(body.insertRow(), 'none', 'muted').colSpan = 8;
  }
  function rate(bps) {
    const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
    let value = bps * 8, unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
    return value.toFixed(value < 10 ? 2 : 1) + ' ' + units[unit];
  }
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return value.toFixed(unit ? 1 : 0) + ' ' + units[unit];
  }
  function age(ms) {
    if (ms == null) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s + ' s ago';
  }

  function render(state, version) {
    $('version').textContent = 'version ' + version + ' · role ' + state.role;
    fill('sites', Object.entries(state.sites), (row, [name, site]) => {
      cell(row, name);
      cell(row, site.domains.join(', '));
      cell(row, site.mode);
      cell(row, site.frontEnds.join(', '));
      cell(row, site.backEnds.join(', '));
      cell(row, site.origins.map((o) => o.url).join(', '));
      cell(row, site.priorities.rules.length + ' (default ' + site.priorities.default + ')', 'num');
      const q = site.qosTarget;
      cell(row, q ? [q.maxLoad != null ? 'load ≤ ' + q.maxLoad : '', q.maxRttMs != null ? 'RTT ≤ ' + q.maxRttMs + ' ms' : ''].filter(Boolean).join(', ') : '');
    });
    const gateways = [
      ...Object.entries(state.frontEnds).map(([id, g]) => ({ id, kind: 'front-end', g })),
      ...Object.entries(state.backEnds).map(([id, g]) => ({ id, kind: 'back-end', g })),
    ];
    const frontTunnels = Object.values(state.frontEnds).flatMap((g) => g.tunnels);
    fill('gateways', gateways, (row, { id, kind, g }) => {
      cell(row, id);
      cell(row, kind);
      cell(row, g.pop || '');
      // A back-end can be healthy and registered while no front-end can open its tunnel (TLS, firewall):
      // when every front-end reporting a tunnel to it says it is down, it is unreachable, not up.
      const towards = kind === 'back-end' ? frontTunnels.filter((t) => t.peer === id) : [];
      const unreachable = g.healthy && towards.length > 0 && towards.every((t) => !t.connected);
      cell(row, unreachable ? 'unreachable' : g.healthy ? 'up' : 'down', g.healthy && !unreachable ? 'up' : 'down');
      const load = cell(row, '', 'num');
      const bar = document.createElement('span');
      bar.className = 'bar' + (g.load > 0.8 ? ' hot' : '');
      bar.style.width = Math.round(g.load * 80) + 'px';
      load.append(bar, (g.load * 100).toFixed(0) + ' %');
      cell(row, age(g.lastReport), 'num');
      cell(row, Object.entries(g.addresses).map(([k, v]) => k + ' ' + v).join(', '));
      const rings = cell(row, '');
      const chart = document.createElement('div');
      chart.className = 'rings';
      const max = Math.max(1, ...g.ringBytes);
      g.ringBytes.forEach((n, ring) => {
        const bar = document.createElement('span');
        bar.style.height = Math.max(2, Math.round((n / max) * 40)) + 'px';
        bar.title = 'ring ' + ring + ': ' + bytes(n);
        chart.append(bar);
      });
      rings.append(chart, g.ringBytes.map(bytes).join(' · '));
    });
    const tunnels = gateways.flatMap(({ id, g }) => g.tunnels.map((t) => ({ from: id, t })));
    fill('tunnels', tunnels, (row, { from, t }) => {
      cell(row, from);
      cell(row, t.peer);
      cell(row, t.connected ? 'connected' : t.error ? 'down: ' + t.error : 'down', t.connected ? 'up' : 'down');
      cell(row, t.rttMs.toFixed(1), 'num rtt');
      cell(row, t.jitterMs.toFixed(1), 'num');
      cell(row, t.lossRate == null ? '' : (t.lossRate * 100).toFixed(2) + ' %', 'num');
      cell(row, rate(t.throughputBps), 'num');
    });
    $('rings').textContent = state.rings.weights.map((w, i) => 'ring ' + i + ': ' + w).join(' · ');
  }

  async function loadDecisions(token) {
    try {
      const res = await fetch('/v1/decisions', { headers: { authorization: 'Bearer ' + token } });
      if (!res.ok) return;
      const { decisions } = await res.json();
      fill('decisions', decisions.slice().reverse(), (row, d) => {
        cell(row, d.time);
        cell(row, d.site);
        cell(row, d.action + ' ' + (d.kind === 'frontEnds' ? 'front-end' : 'back-end'));
        cell(row, d.gateway);
        cell(row, d.reason);
      });
    } catch { /* the feed status already says the manager is away */ }
  }

  function setStatus(up, text) {
    $('status').textContent = text;
    $('status').className = up ? 'up' : '';
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(decisionsTimer);
    if (socket) { socket.onclose = null; socket.close(); }
    state = undefined;
    const token = tokenInput.value.trim();
    if (!token) { setStatus(false, 'enter the token'); return; }
    sessionStorage.setItem('overlay-token', token);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(scheme + '//' + location.host + '/v1/stream?token=' + encodeURIComponent(token));
    setStatus(false, 'connecting');
    socket.onopen = () => { retry = 500; setStatus(true, 'live'); };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'snapshot') state = message.state;
      else if (message.type === 'patch' && state && state.version === message.from) state = applyStatePatch(state, message);
      else if (message.type === 'patch') { socket.close(); return; } // not the version held: reconnect for a snapshot
      else return;
      render(state, message.version);
    };
    socket.onclose = () => {
      setStatus(false, 'disconnected; retrying');
      retryTimer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
    loadDecisions(token);
    decisionsTimer = setInterval(() => loadDecisions(token), 5000);
  }

  $('connect').addEventListener('click', connect);
  tokenInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') connect(); });
  if (tokenInput.value) connect();
})();
</script>
</body>
</html>
`;

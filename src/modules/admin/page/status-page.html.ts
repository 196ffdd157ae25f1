/**
 * The status page: one self-contained document (inline CSS and JS, SVG charts, no external asset).
 * It asks for a viewer token (or takes it from /#token=…), keeps it in sessionStorage, and polls the
 * API with it; every value reaches the DOM through textContent.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tandem status</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:20px;margin:0}header .muted{color:#aab}
main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:12px 16px}
section.wide{grid-column:1/-1}h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.PASS,.running,.caught-up,.streaming,.committed{color:#2e7d32}
.FAIL,.stalled,.missing,.aborted,.stopped{color:#c62828}.idle,.not-started,.frozen,.drained,.verified,.parallel{color:#ef6c00}
.pipeline{display:flex;gap:12px;align-items:stretch;flex-wrap:wrap}.stage{flex:1;min-width:180px}
.box{border:1px solid #ccd;border-radius:4px;padding:6px 8px;margin-bottom:6px;font-size:13px;background:#fafbff}
.arrow{align-self:center;font-size:22px;color:#889}code{font-size:12px}ul{margin:4px 0;padding-left:18px;font-size:13px}
#login{max-width:420px}#login input{width:100%;padding:6px;margin:6px 0}.err{color:#c62828}
svg text{font-size:11px;fill:#556}.legend span{display:inline-block;margin-right:12px;font-size:12px}
</style></head>
<body>
<header><h1>Tandem</h1><span class="muted" id="read-at">no data</span><span class="muted" id="problem"></span></header>
<main id="app">
<section id="login" class="wide" hidden><h2>Viewer token</h2>
<p>This page shows data only with a token of role viewer or operator (or open <code>/#token=…</code>).</p>
<form id="login-form"><input id="token-input" type="password" autocomplete="off" placeholder="bearer token"><button>Show status</button></form>
<p class="err" id="login-error"></p></section>
<section class="wide" data-panel><h2>Pipeline</h2><div class="pipeline">
<div class="stage"><h2>Source</h2><div id="sources"></div></div><div class="arrow">→</div>
<div class="stage"><h2>Kafka topics</h2><div id="topics"></div></div><div class="arrow">→</div>
<div class="stage"><h2>Projections</h2><div id="projection-boxes"></div></div></div></section>
<section data-panel><h2>Source lag, KiB (last 10 minutes)</h2><div id="source-lag-chart"></div></section>
<section data-panel><h2>Projection lag, events (last 10 minutes)</h2><div id="lag-chart"></div></section>
<section data-panel><h2>Throughput, events/s (last 10 minutes)</h2><div id="rate-chart"></div></section>
<section class="wide" data-panel><h2>Projections</h2><table><thead><tr><th>projection</th><th>state</th><th>lag (events)</th><th>lag (s)</th>
<th>events/s</th><th>checkpoint LSN</th><th>quarantined</th></tr></thead><tbody id="projections"></tbody></table></section>
<section data-panel><h2>Quarantine</h2><div id="quarantine"></div></section>
<section data-panel><h2>Reconciliation</h2><div id="reconciliation"></div></section>
<section class="wide" data-panel><h2>Backfills</h2><div id="backfills"></div></section>
<section class="wide" data-panel><h2>Cutover</h2><div id="cutover"></div></section>
<section class="wide" data-panel><h2>Failback (target → legacy)</h2><div id="failback"></div></section>
</main>
<script>
(function () {
  'use strict';
  var KEY = 'tandem.viewerToken', REFRESH_MS = 2000, COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f', '#5d4037'];
  var match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match) { sessionStorage.setItem(KEY, decodeURIComponent(match[1])); history.replaceState(null, '', location.pathname); }
  var token = function () { return sessionStorage.getItem(KEY); };
  var $ = function (id) { return document.getElementById(id); };
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === 'style') el.style.cssText = attrs[k]; else el.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c); });
    return el;
  }
  function fill(id, nodes) { var el = $(id); el.replaceChildren.apply(el, nodes); }
  var fmt = function (n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 }); };
  function showLogin(message) {
    $('login').hidden = false; $('login-error').textContent = message || '';
    document.querySelectorAll('[data-panel]').forEach(function (el) { el.hidden = true; });
  }
  function showPanels() { $('login').hidden = true; document.querySelectorAll('[data-panel]').forEach(function (el) { el.hidden = false; }); }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault(); sessionStorage.setItem(KEY, $('token-input').value.trim()); $('token-input').value = ''; refresh();
  });
  function api(path, type) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token() } }).then(function (r) {
      if (r.status === 401 || r.status === 403) { var e = new Error('token refused'); e.auth = true; throw e; }
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return type === 'text' ? r.text() : r.json();
    });
  }

  function renderPipeline(s) {
    fill('sources', s.source.map(function (x) {
      return h('div', { class: 'box' }, [h('b', {}, [x.slot]), ' ', h('span', { class: x.state }, [x.state]), h('br'),
        'lag ', h('span', { 'data-testid': 'source-lag-' + x.slot }, [fmt(x.lagBytes)]), ' B · retained WAL ', fmt(x.retainedWalBytes), ' B']);
    }));
    var ends = {};
    s.projections.forEach(function (p) { p.partitions.forEach(function (q) { ends[q.topic + '#' + q.partition] = q.endOffset; }); });
    var perTopic = {};
    Object.keys(ends).forEach(function (k) { var t = k.slice(0, k.lastIndexOf('#')); perTopic[t] = (perTopic[t] || 0) + ends[k]; });
    fill('topics', Object.keys(perTopic).sort().map(function (t) { return h('div', { class: 'box' }, [h('code', {}, [t]), h('br'), 'end offset ', fmt(perTopic[t])]); }));
    fill('projection-boxes', s.projections.map(function (p) {
      return h('div', { class: 'box' }, [h('b', {}, [p.projection]), ' ', h('span', { class: p.state }, [p.state]), h('br'), 'lag ', fmt(p.lagEvents), ' events']);
    }));
  }
  function renderProjections(s) {
    fill('projections', s.projections.map(function (p) {
      return h('tr', { 'data-projection': p.projection }, [h('td', {}, [p.projection]), h('td', { class: p.state }, [p.state]),
        h('td', { class: 'n', 'data-testid': 'lag-' + p.projection }, [fmt(p.lagEvents)]), h('td', { class: 'n' }, [fmt(p.lagSeconds)]),
        h('td', { class: 'n' }, [fmt(p.eventsPerSecond)]), h('td', {}, [h('code', { 'data-testid': 'checkpoint-' + p.projection }, [p.checkpointLsn || '–'])]),
        h('td', { class: 'n', 'data-testid': 'quarantined-' + p.projection }, [String(p.quarantined)])]);
    }));
    fill('quarantine', s.projections.filter(function (p) { return p.quarantined > 0; }).map(function (p) {
      return h('div', {}, [h('b', {}, [p.projection]), ': ', h('span', { 'data-testid': 'quarantine-count-' + p.projection }, [String(p.quarantined)]), ' quarantined',
        h('ul', {}, p.newestQuarantineReasons.map(function (q) { return h('li', { 'data-quarantine-id': q.id }, ['#' + q.id + ' ', h('span', { class: 'muted' }, [new Date(q.at).toLocaleTimeString()]), ' ' + q.reason]); }))]);
    }).concat(s.projections.some(function (p) { return p.quarantined > 0; }) ? [] : [h('p', {}, ['nothing quarantined'])]));
  }
  function renderReconciliation(s) {
    if (s.lastReconciliations.length === 0) return fill('reconciliation', [h('p', {}, ['no reconciliation recorded yet'])]);
    fill('reconciliation', [h('table', {}, [h('thead', {}, [h('tr', {}, ['projection', 'verdict', 'mismatch', 'source LSN', 'finished', 'report'].map(function (c) { return h('th', {}, [c]); }))]),
      h('tbody', {}, s.lastReconciliations.map(function (r) {
        var link = h('a', { href: '#', 'data-report-id': r.id, 'data-testid': 'report-link-' + r.projection }, ['report #' + r.id]);
        link.addEventListener('click', function (e) {
          if (link.getAttribute('href') !== '#') return;
          e.preventDefault();
          api('/api/reconcile/reports/' + r.id + '/html', 'text').then(function (html) {
            link.href = URL.createObjectURL(new Blob([html], { type: 'text/html' })); link.target = '_blank'; link.click();
          });
        });
        return h('tr', {}, [h('td', {}, [r.projection]), h('td', { class: r.verdict, 'data-testid': 'verdict-' + r.projection }, [r.verdict]),
          h('td', { class: 'n' }, [(r.mismatchRatio * 100).toFixed(4) + ' %']), h('td', {}, [h('code', {}, [r.sourceLsn])]),
          h('td', {}, [new Date(r.finishedAt).toLocaleString()]), h('td', {}, [link])]);
      }))])]);
  }
  function renderBackfills(s) {
    var rows = s.backfills || [];
    if (rows.length === 0) return fill('backfills', [h('p', {}, ['no backfill requested'])]);
    fill('backfills', [h('table', {}, [h('thead', {}, [h('tr', {}, ['table', 'state', 'rows read', 'chunks done', 'chunks left', 'rows/s'].map(function (c) { return h('th', {}, [c]); }))]),
      h('tbody', {}, rows.map(function (b) {
        return h('tr', { 'data-backfill-id': b.id }, [h('td', {}, [b.where === null ? b.table : b.table + ' where ' + b.where]), h('td', { 'data-testid': 'backfill-state-' + b.id }, [b.status]),
          h('td', { class: 'n' }, [String(b.rowsRead)]), h('td', { class: 'n' }, [String(b.chunksDone)]),
          h('td', { class: 'n' }, [b.chunksLeft === null ? '–' : String(b.chunksLeft)]), h('td', { class: 'n' }, [b.rowsPerSecond === null ? '–' : String(b.rowsPerSecond)])]);
      }))])]);
  }
  function renderCutover(s) {
    var c = s.cutover;
    if (!c) return fill('cutover', [h('p', { 'data-testid': 'cutover-state' }, ['no cutover recorded'])]);
    fill('cutover', [h('p', {}, ['cutover #' + c.id + ': ', h('b', { class: c.state, 'data-testid': 'cutover-state' }, [c.state]),
      c.freezeLsn ? ' · freeze LSN ' + c.freezeLsn : '', ' · by ' + c.operator + ' · ' + new Date(c.updatedAt).toLocaleString()]),
      h('ul', {}, c.history.map(function (step) { return h('li', {}, [new Date(step.at).toLocaleString() + ' ', h('span', { class: step.state }, [step.state]), step.reason ? ': ' + step.reason : '']); }))]);
  }
  function renderFailback(s) {
    var f = s.failback;
    if (!f) return fill('failback', [h('p', { 'data-testid': 'failback-state' }, ['no failback running'])]);
    var capture = f.slot.active ? 'streaming' : 'stopped';
    fill('failback', [h('p', {}, ['failback of cutover #' + f.cutoverId + ': capture ', h('b', { class: capture, 'data-testid': 'failback-state' }, [capture]),
      ' · target WAL unconfirmed ', h('span', { 'data-testid': 'failback-wal-lag' }, [fmt(f.slot.behindBytes)]), ' B · ',
      h('b', { class: f.caughtUp ? 'caught-up' : 'idle', 'data-testid': 'failback-caught-up' }, [f.caughtUp ? 'caught up' : 'behind'])]),
      h('table', {}, [h('thead', {}, [h('tr', {}, ['projection', 'records to apply to legacy', 'applied target LSN', 'quarantined'].map(function (c) { return h('th', {}, [c]); }))]),
        h('tbody', {}, f.projections.map(function (p) {
          return h('tr', { 'data-failback-projection': p.projection }, [h('td', {}, [p.projection]),
            h('td', { class: 'n', 'data-testid': 'failback-lag-' + p.projection }, [String(p.behindRecords)]),
            h('td', {}, [h('code', {}, [p.appliedLsn || '–'])]), h('td', { class: 'n', 'data-testid': 'failback-quarantined-' + p.projection }, [String(p.quarantined)])]);
        }))])]);
  }

  /** A line chart of named series over time, in SVG. */
  function chart(id, samples, series, unit) {
    var W = 560, H = 180, L = 60, B = 22, T = 8;
    var times = samples.map(function (s) { return Date.parse(s.at); });
    var max = 1;
    series.forEach(function (se) { samples.forEach(function (s) { var v = se.value(s); if (v !== null && v > max) max = v; }); });
    var t0 = times.length ? times[0] : 0, t1 = times.length ? Math.max(times[times.length - 1], t0 + 1) : 1;
    var x = function (t) { return L + ((t - t0) / (t1 - t0)) * (W - L - 8); }, y = function (v) { return H - B - (v / max) * (H - B - T); };
    var svg = '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H + '" role="img">';
    for (var i = 0; i <= 4; i++) {
      var v = (max * i) / 4;
      svg += '<line x1="' + L + '" x2="' + (W - 8) + '" y1="' + y(v) + '" y2="' + y(v) + '" stroke="#eee"/><text x="' + (L - 4) + '" y="' + (y(v) + 4) + '" text-anchor="end">' + fmt(v) + '</text>';
    }
    if (times.length) svg += '<text x="' + L + '" y="' + (H - 6) + '">' + new Date(t0).toLocaleTimeString() + '</text><text x="' + (W - 8) + '" y="' + (H - 6) + '" text-anchor="end">' + new Date(t1).toLocaleTimeString() + '</text>';
    series.forEach(function (se, k) {
      var pts = samples.map(function (s, i) { var v = se.value(s); return v === null ? null : x(times[i]).toFixed(1) + ',' + y(v).toFixed(1); }).filter(Boolean);
      if (pts.length) svg += '<polyline fill="none" stroke-width="2" stroke="' + COLORS[k % COLORS.length] + '" points="' + pts.join(' ') + '"/>';
    });
    svg += '</svg>';
    var box = $(id);
    box.replaceChildren();
    var doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    box.appendChild(document.importNode(doc.documentElement, true));
    box.appendChild(h('div', { class: 'legend' }, series.map(function (se, k) { return h('span', { style: 'color:' + COLORS[k % COLORS.length] }, ['■ ' + se.name + (unit ? ' (' + unit + ')' : '')]); })));
  }
  function renderCharts(history) {
    var samples = history.samples, names = {};
    samples.forEach(function (s) { Object.keys(s.projections).forEach(function (n) { names[n] = true; }); });
    var projections = Object.keys(names).sort();
    // one unit per chart: bytes and events on one axis made either unreadable
    chart('source-lag-chart', samples, [{ name: 'source lag', value: function (s) { return s.sourceLagBytes === null ? null : s.sourceLagBytes / 1024; } }], 'KiB');
    chart('lag-chart', samples, projections.map(function (n) { return { name: n, value: function (s) { return s.projections[n] ? s.projections[n].lagEvents : null; } }; }), 'events');
    chart('rate-chart', samples, [{ name: 'capture', value: function (s) { return s.captureEventsPerSecond; } }]
      .concat(projections.map(function (n) { return { name: n, value: function (s) { return s.projections[n] ? s.projections[n].eventsPerSecond : null; } }; })), 'events/s');
  }

  var timer = null;
  function refresh() {
    clearTimeout(timer);
    if (!token()) { showLogin(); return; }
    Promise.all([api('/api/status'), api('/api/status/history')]).then(function (results) {
      var s = results[0];
      showPanels();
      $('read-at').textContent = 'read at ' + new Date(s.readAt).toLocaleTimeString();
      $('problem').textContent = s.kafka.reachable ? '' : '· Kafka unreachable: ' + s.kafka.error;
      renderPipeline(s); renderProjections(s); renderReconciliation(s); renderBackfills(s); renderCutover(s); renderFailback(s); renderCharts(results[1]);
      document.body.setAttribute('data-loaded-at', s.readAt);
    }).catch(function (e) {
      if (e.auth) { sessionStorage.removeItem(KEY); showLogin('that token was refused'); return; }
      $('problem').textContent = '· ' + e.message;
    }).then(function () { if (token()) timer = setTimeout(refresh, REFRESH_MS); });
  }
  refresh();
})();
</script></body></html>
`;

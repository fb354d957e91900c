// The plan report's UI: a sortable, filterable, paged table of the models and their lineage graph
// (cytoscape + cytoscape-dagre), coloured by predicted action, with the edges new data flows along
// highlighted. One file for both hosts:
//   - `freshlens plan --format html`: the data is in <script id="freshlens-report-data">, inline;
//   - the VS Code webview: the data arrives by postMessage ({type: 'report', report}) and again after
//     every re-plan; clicking a model's name asks the extension to open its file ({type: 'open'}).
// Plain ES2017, no build step, DOM built with textContent only (no HTML from data).
(function () {
  'use strict';
  var vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : null;
  var PAGE = 100;        // table rows per page: a 10,000-model project stays quick
  var GRAPH_MAX = 300;   // above this many nodes the graph shows the selected model's neighbourhood
  var ORDER = { build: 0, reuse: 1, 'no-op': 2, unknown: 3 };
  var COLORS = { build: '#e8833a', reuse: '#3fa46a', 'no-op': '#9aa0a6', unknown: '#a66ad6', source: '#4a8fd9', outside: '#d0d4d9' };
  var NEW_DATA = '#d9412b';
  var COLS = [
    ['name', 'Model'], ['action', 'Action'], ['short', 'Reason'], ['rule', 'Rule'], ['last_build', 'Last build'],
    ['window', 'Window'], ['project', 'Project'], ['folder', 'Folder'], ['tags', 'Tags'],
  ];
  var S = { report: null, sortKey: 'action', sortDir: 1, text: '', hidden: {}, page: 0, selected: null, cy: null, project: null };
  var G = { parents: [], children: [], index: {} };  // adjacency over report.graph
  var root = document.getElementById('freshlens-report');
  if (!root) { return; }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function $(id) { return document.getElementById(id); }

  // ---- skeleton -----------------------------------------------------------------------------
  root.textContent = '';
  var head = el('header');
  head.appendChild(el('h1', { id: 'fl-summary' }, 'freshlens plan'));
  head.appendChild(el('div', { id: 'fl-meta' }));
  root.appendChild(head);
  var gbar = el('div', { 'class': 'fl-bar' });
  var legend = el('span', { 'class': 'fl-legend' });
  [['build', 'build'], ['reuse', 'reuse'], ['no-op', 'no-op'], ['unknown', 'unknown'], ['source', 'source'], ['newdata fl-line', 'new data flows']]
    .forEach(function (p) { var s = el('span'); s.appendChild(el('i', { 'class': 'fl-swatch ' + p[0] })); s.appendChild(document.createTextNode(p[1])); legend.appendChild(s); });
  gbar.appendChild(legend);
  var pick = el('select', { id: 'fl-project', 'aria-label': 'project shown in the graph' });
  pick.addEventListener('change', function () { S.project = pick.value; S.selected = null; renderTable(); renderGraph(true); });
  gbar.appendChild(pick);
  gbar.appendChild(el('span', { id: 'fl-graph-note', 'class': 'fl-note' }));
  var clear = el('button', { id: 'fl-clear', type: 'button', title: 'Show the whole project again' }, 'Clear selection');
  gbar.appendChild(clear);
  root.appendChild(gbar);
  root.appendChild(el('div', { id: 'fl-graph', role: 'img', 'aria-label': 'lineage graph' }));
  var tbar = el('div', { 'class': 'fl-bar' });
  var filter = el('input', { id: 'fl-filter', type: 'search', placeholder: 'Filter: name, reason, rule, folder, tag…', 'aria-label': 'filter models' });
  tbar.appendChild(filter);
  tbar.appendChild(el('span', { id: 'fl-chips' }));
  tbar.appendChild(el('span', { id: 'fl-count', 'class': 'fl-note' }));
  var prev = el('button', { id: 'fl-prev', type: 'button' }, '‹ Prev');
  var next = el('button', { id: 'fl-next', type: 'button' }, 'Next ›');
  tbar.appendChild(prev);
  tbar.appendChild(next);
  root.appendChild(tbar);
  var table = el('table', { id: 'fl-table' });
  var thead = el('thead');
  var hr = el('tr');
  COLS.forEach(function (c) {
    var th = el('th', { 'data-key': c[0], scope: 'col' }, c[1]);
    th.addEventListener('click', function () {
      S.sortDir = S.sortKey === c[0] ? -S.sortDir : 1;
      S.sortKey = c[0];
      S.page = 0;
      renderTable();
    });
    hr.appendChild(th);
  });
  thead.appendChild(hr);
  table.appendChild(thead);
  table.appendChild(el('tbody'));
  root.appendChild(table);

  filter.addEventListener('input', function () { S.text = filter.value.trim().toLowerCase(); S.page = 0; renderTable(); });
  prev.addEventListener('click', function () { S.page -= 1; renderTable(); });
  next.addEventListener('click', function () { S.page += 1; renderTable(); });
  clear.addEventListener('click', function () { select(null); });

  // ---- data ---------------------------------------------------------------------------------
  function setReport(report) {
    S.report = report;
    var nodes = report.graph.nodes;
    G = { parents: nodes.map(function () { return []; }), children: nodes.map(function () { return []; }), index: {} };
    nodes.forEach(function (n, i) { G.index[n.id] = i; });
    report.graph.edges.forEach(function (e) { G.children[e[0]].push(e[1]); G.parents[e[1]].push(e[0]); });
    if (S.selected !== null && G.index[S.selected] === undefined) { S.selected = null; }
    var names = report.projects.map(function (p) { return p.project; });
    if (names.indexOf(S.project) < 0) {
      // the graph shows one project: the selected model's, else the first with a model to build
      var first = report.rows.filter(function (r) { return r.action === 'build'; })[0] || report.rows[0];
      S.project = S.selected !== null ? nodes[G.index[S.selected]].project : first ? first.project : names[0];
    }
    pick.textContent = '';
    names.forEach(function (n) { var o = el('option', { value: n }, 'graph: ' + n); pick.appendChild(o); });
    pick.value = S.project;
    pick.style.display = names.length > 1 ? '' : 'none';
    renderHead();
    renderChips();
    renderTable();
    renderGraph(true);
  }

  function renderHead() {
    var r = S.report;
    $('fl-summary').textContent = r.summary;
    var meta = $('fl-meta');
    meta.textContent = '';
    r.projects.forEach(function (p) {
      var regime = p.regime === 'dbt-state' ? 'dbt State' : 'state-aware orchestration (SAO)';
      var line = p.project + ' · ' + regime + ' · predicted for ' + String(p.at).slice(0, 16).replace('T', ' ') + ' UTC · state: ' +
        (p.state || 'none') + ' · source freshness: ' + (p.freshness || 'none');
      meta.appendChild(el('div', { 'class': 'fl-meta' }, r.projects.length > 1 ? p.summary + ' — ' + line : line));
      (p.problems || []).forEach(function (m) { meta.appendChild(el('div', { 'class': 'fl-problem' }, '⚠ ' + m)); });
    });
  }

  function renderChips() {
    var chips = $('fl-chips');
    chips.textContent = '';
    var counts = S.report.counts;
    Object.keys(counts).sort(function (a, b) { return (ORDER[a] === undefined ? 9 : ORDER[a]) - (ORDER[b] === undefined ? 9 : ORDER[b]); })
      .forEach(function (a) {
        var lab = el('label', { 'class': 'fl-chip' });
        var box = el('input', { type: 'checkbox', 'data-action': a });
        box.checked = !S.hidden[a];
        box.addEventListener('change', function () { S.hidden[a] = !box.checked; S.page = 0; renderTable(); });
        lab.appendChild(box);
        lab.appendChild(el('span', { 'class': 'fl-action ' + a }, a + ' ' + counts[a]));
        chips.appendChild(lab);
      });
  }

  // ---- table --------------------------------------------------------------------------------
  function matches(r) {
    if (S.hidden[r.action]) { return false; }
    if (!S.text) { return true; }
    var hay = [r.name, r.id, r.action, r.short, r.reason, r.rule, r.window, r.project, r.folder, (r.tags || []).join(' ')].join('\n').toLowerCase();
    return hay.indexOf(S.text) >= 0;
  }
  function sortValue(r, key) {
    if (key === 'action') { return ORDER[r.action] === undefined ? 9 : ORDER[r.action]; }
    if (key === 'tags') { return (r.tags || []).join(','); }
    if (key === 'window') { return r.window_seconds === null || r.window_seconds === undefined ? null : r.window_seconds; }
    var v = r[key];
    return v === undefined || v === '' ? null : v;
  }
  function compare(a, b) {
    var x = sortValue(a, S.sortKey), y = sortValue(b, S.sortKey);
    if (x === null && y !== null) { return 1; }   // empty cells last, whichever the direction
    if (y === null && x !== null) { return -1; }
    var c = x === y ? 0 : (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)));
    if (c === 0) { c = a.name.localeCompare(b.name); return c; }
    return c * S.sortDir;
  }
  function visibleRows() { return S.report.rows.filter(matches).sort(compare); }

  function renderTable() {
    if (!S.report) { return; }
    var rows = visibleRows();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    S.page = Math.min(Math.max(S.page, 0), pages - 1);
    var start = S.page * PAGE;
    var slice = rows.slice(start, start + PAGE);
    var body = table.tBodies[0];
    var fresh = el('tbody');
    slice.forEach(function (r) { fresh.appendChild(rowElement(r)); });
    table.replaceChild(fresh, body);
    Array.prototype.forEach.call(thead.querySelectorAll('th'), function (th) {
      var k = th.getAttribute('data-key');
      if (k === S.sortKey) { th.setAttribute('aria-sort', S.sortDir > 0 ? 'ascending' : 'descending'); } else { th.removeAttribute('aria-sort'); }
    });
    var total = S.report.rows.length;
    $('fl-count').textContent = rows.length === 0 ? 'no model matches' :
      'rows ' + (start + 1) + '–' + (start + slice.length) + ' of ' + rows.length + (rows.length < total ? ' (filtered from ' + total + ')' : '');
    prev.disabled = S.page === 0;
    next.disabled = S.page >= pages - 1;
  }

  function rowElement(r) {
    var tr = el('tr', { 'data-id': r.id });
    if (r.id === S.selected) { tr.className = 'fl-selected'; }
    var name = el('td');
    var link = el('a', { href: '#', 'class': 'fl-open', title: r.file ? 'open ' + r.file : r.id }, r.name);
    link.addEventListener('click', function (ev) {
      ev.preventDefault();
      ev.stopPropagation();
      select(r.id);
      if (vscode && r.file) { vscode.postMessage({ type: 'open', id: r.id, project: r.project, file: r.file }); }
    });
    name.appendChild(link);
    tr.appendChild(name);
    var act = el('td');
    act.appendChild(el('span', { 'class': 'fl-action ' + r.action }, r.action));
    tr.appendChild(act);
    tr.appendChild(el('td', { title: r.reason || '' }, r.short));
    tr.appendChild(el('td', { 'class': 'fl-nowrap' }, r.rule));
    tr.appendChild(el('td', { 'class': 'fl-nowrap' }, r.last_build ? String(r.last_build).slice(0, 16).replace('T', ' ') : 'never'));
    tr.appendChild(el('td', { 'class': 'fl-nowrap' }, r.window));
    tr.appendChild(el('td', null, r.project));
    tr.appendChild(el('td', { 'class': 'fl-dim' }, r.folder));
    var tags = el('td');
    (r.tags || []).forEach(function (t) { tags.appendChild(el('span', { 'class': 'fl-tag' }, t)); });
    tr.appendChild(tags);
    tr.addEventListener('click', function () { select(r.id); });
    return tr;
  }

  // ---- graph --------------------------------------------------------------------------------
  /** Node indexes up- and downstream of `start` (itself first), nearest first: its lineage. */
  function lineageOf(start) {
    var seen = {}, out = [start], up = [start], down = [start];
    seen[start] = true;
    function step(level, links) {
      var nextLevel = [];
      level.forEach(function (i) {
        links[i].forEach(function (j) { if (!seen[j]) { seen[j] = true; out.push(j); nextLevel.push(j); } });
      });
      return nextLevel;
    }
    while (up.length || down.length) {
      up = step(up, G.parents);
      down = step(down, G.children);
    }
    return out;
  }

  function defaultFocus() {
    // a large project opens on the first row to build (else the first row): its lineage
    var rows = S.report.rows.filter(function (r) { return r.project === S.project; });
    for (var i = 0; i < rows.length; i++) { if (rows[i].action === 'build') { return rows[i].id; } }
    return rows.length ? rows[0].id : null;
  }

  function elementsFor(indexes) {
    var nodes = S.report.graph.nodes, keep = {}, els = [];
    indexes.forEach(function (i) { keep[i] = true; });
    indexes.forEach(function (i) {
      var n = nodes[i];
      els.push({ group: 'nodes', data: { id: n.id, label: n.name, action: n.action, color: COLORS[n.action] || COLORS.outside },
        classes: (n.kind === 'source' ? 'source' : '') + (n.new_data ? ' newdata' : '') });
    });
    S.report.graph.edges.forEach(function (e, k) {
      if (keep[e[0]] && keep[e[1]]) {
        els.push({ group: 'edges', data: { id: 'e' + k, source: nodes[e[0]].id, target: nodes[e[1]].id }, classes: e[2] ? 'newdata' : '' });
      }
    });
    return els;
  }

  function graphStyle() {
    var fg = getComputedStyle(root).color || '#1f2328';
    return [
      { selector: 'node', style: { shape: 'round-rectangle', 'background-color': 'data(color)', label: 'data(label)', color: '#111',
        'font-size': 11, 'text-valign': 'center', 'text-halign': 'center', width: 'label', height: 20, padding: '6px',
        'border-width': 1, 'border-color': '#00000033' } },
      { selector: 'node.source', style: { shape: 'barrel', color: '#fff' } },
      { selector: 'node.newdata', style: { 'border-width': 3, 'border-color': NEW_DATA } },
      { selector: 'edge', style: { width: 1.2, 'line-color': '#8c959f', 'target-arrow-color': '#8c959f', 'target-arrow-shape': 'triangle',
        'curve-style': 'bezier', 'arrow-scale': 0.8 } },
      { selector: 'edge.newdata', style: { width: 3.5, 'line-color': NEW_DATA, 'target-arrow-color': NEW_DATA, 'z-index': 10 } },
      { selector: '.faded', style: { opacity: 0.15 } },
      { selector: 'node.focus', style: { 'border-width': 3, 'border-color': fg, 'font-weight': 'bold' } },
    ];
  }

  function renderGraph(rebuild) {
    var container = $('fl-graph');
    var nodes = S.report.graph.nodes;
    var note = $('fl-graph-note');
    var focus = S.selected !== null ? G.index[S.selected] : undefined;
    if (focus !== undefined && nodes[focus].project !== S.project) {  // a model of another project
      S.project = nodes[focus].project;
      pick.value = S.project;
      rebuild = true;
    }
    var mine = [];
    nodes.forEach(function (n, i) { if (n.project === S.project) { mine.push(i); } });
    var whole = mine.length <= GRAPH_MAX;
    if (typeof cytoscape !== 'function') { note.textContent = 'the graph library did not load'; return; }
    if (whole && S.cy && !rebuild) { emphasise(focus); return; }
    var indexes;
    if (whole) {
      indexes = mine;
      note.textContent = mine.length + ' nodes' + (focus !== undefined ? '; the selected model\'s up- and downstream are highlighted' : '');
    } else {
      if (focus === undefined) { var d = defaultFocus(); focus = d === null ? undefined : G.index[d]; }
      indexes = focus === undefined ? [] : lineageOf(focus);
      var shown = indexes.slice(0, GRAPH_MAX);
      note.textContent = 'This project has ' + mine.length.toLocaleString('en') + ' nodes: the graph shows ' +
        (focus === undefined ? 'nothing' : 'the up- and downstream of ' + nodes[focus].name) +
        (indexes.length > GRAPH_MAX ? ' (the nearest ' + GRAPH_MAX + ' of ' + indexes.length + ')' : ' (' + indexes.length + ' nodes)') +
        '. Select a model in the table to see its lineage.';
      indexes = shown;
    }
    if (S.cy) { S.cy.destroy(); S.cy = null; }
    var cy = cytoscape({
      container: container, elements: elementsFor(indexes), style: graphStyle(), wheelSensitivity: 0.3,
      minZoom: 0.05, maxZoom: 1.6, boxSelectionEnabled: false, autoungrabify: true,
    });
    cy.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 12, rankSep: 70, edgeSep: 6, fit: true, padding: 16 }).run();
    cy.on('tap', 'node', function (ev) { var id = ev.target.id(); if (G.index[id] !== undefined && rowOf(id)) { select(id, true); } });
    S.cy = cy;
    container.setAttribute('data-nodes', String(cy.nodes().length));
    container.setAttribute('data-edges', String(cy.edges().length));
    container.setAttribute('data-new-data-edges', String(cy.edges('.newdata').length));
    if (whole) { emphasise(focus); } else if (focus !== undefined) { cy.getElementById(nodes[focus].id).addClass('focus'); }
  }

  function emphasise(focus) {
    var cy = S.cy;
    cy.elements().removeClass('faded focus');
    $('fl-graph').setAttribute('data-focus', focus === undefined ? '' : S.report.graph.nodes[focus].id);
    if (focus === undefined) { cy.fit(undefined, 16); return; }
    var keep = {};
    lineageOf(focus).forEach(function (i) { keep[S.report.graph.nodes[i].id] = true; });
    cy.nodes().forEach(function (n) { if (!keep[n.id()]) { n.addClass('faded'); } });
    cy.edges().forEach(function (e) { if (!keep[e.source().id()] || !keep[e.target().id()]) { e.addClass('faded'); } });
    var me = cy.getElementById(S.report.graph.nodes[focus].id);
    me.addClass('focus');
    cy.animate({ fit: { eles: cy.elements().not('.faded'), padding: 24 } }, { duration: 250 });
  }

  function rowOf(id) { return S.report.rows.filter(function (r) { return r.id === id; })[0]; }

  /** Select a model: highlight its row, focus its lineage in the graph; from the graph, page to its row. */
  function select(id, fromGraph) {
    S.selected = id;
    if (id !== null && fromGraph) {
      var rows = visibleRows(), at = -1;
      for (var i = 0; i < rows.length; i++) { if (rows[i].id === id) { at = i; break; } }
      if (at < 0) { S.text = ''; filter.value = ''; S.hidden = {}; renderChips(); rows = visibleRows(); at = rows.map(function (r) { return r.id; }).indexOf(id); }
      S.page = Math.floor(at / PAGE);
    }
    renderTable();
    renderGraph(false);
    if (vscode) { vscode.setState({ selected: S.selected }); }
  }

  // ---- start --------------------------------------------------------------------------------
  if (typeof cytoscape === 'function' && typeof cytoscapeDagre === 'function') { cytoscape.use(cytoscapeDagre); }
  if (vscode) {
    var saved = vscode.getState();
    if (saved && saved.selected) { S.selected = saved.selected; }
    window.addEventListener('message', function (ev) {
      var m = ev.data;
      if (m && m.type === 'report' && m.report) { setReport(m.report); }
    });
    vscode.postMessage({ type: 'ready' });
  } else {
    var data = document.getElementById('freshlens-report-data');
    if (data) { setReport(JSON.parse(data.textContent)); }
  }
})();

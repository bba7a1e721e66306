// cidrot operator dashboard. Plain JS, no dependencies. Every value from the server reaches the
// page through textContent or attributes set one by one: never innerHTML, so a carrier named
// "<script>" is shown as text.
'use strict';
(function () {
  const POLL_MS = 2000;
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const state = {
    csrf: '', timer: 0, polling: false,
    sort: 'caller_id', order: 'asc', offset: 0, total: 0,
  };

  // --- DOM helpers ------------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');
  function ago(iso) {
    if (!iso) return 'never';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return new Date(iso).toISOString().slice(0, 16).replace('T', ' ');
  }
  function setText(id, v) { $(id).textContent = v; }

  // --- API --------------------------------------------------------------------------------------
  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.message) || ('HTTP ' + status));
      this.status = status;
    }
  }
  async function api(method, path, body, type) {
    const headers = {};
    if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
    if (body !== undefined) headers['Content-Type'] = type || 'application/json';
    const res = await fetch(path, {
      method, headers, body, credentials: 'same-origin', cache: 'no-store',
    });
    let data = null;
    if ((res.headers.get('content-type') || '').includes('json')) data = await res.json();
    if (res.status === 401) { showLogin('Session ended; sign in again.'); throw new HttpError(401, data); }
    if (!res.ok) throw new HttpError(res.status, data);
    return data;
  }

  // --- login ------------------------------------------------------------------------------------
  function showLogin(message) {
    stopPolling();
    state.csrf = '';
    $('app').hidden = true;
    $('login').hidden = false;
    setText('login-error', message || '');
    $('token').focus();
  }
  function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    startPolling();
  }
  async function login(ev) {
    ev.preventDefault();
    const input = $('token');
    const body = new URLSearchParams({ token: input.value }).toString();
    input.value = '';  // never kept in the page once sent
    const res = await fetch('/dashboard/login', {
      method: 'POST', body, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { setText('login-error', data.message || ('Sign-in failed (' + res.status + ')')); return; }
    state.csrf = data.csrf_token;
    setText('login-error', '');
    showApp();
  }
  async function logout() {
    await fetch('/dashboard/logout', {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf },
    }).catch(() => {});
    showLogin('Signed out.');
  }

  // --- polling ----------------------------------------------------------------------------------
  function startPolling() { if (!state.polling) { state.polling = true; poll(); } }
  function stopPolling() { state.polling = false; clearTimeout(state.timer); }
  function refreshSoon() { clearTimeout(state.timer); if (state.polling) poll(); }

  function numbersQuery() {
    const q = new URLSearchParams();
    const prefix = $('f-prefix').value.replace(/\D/g, '');
    if (prefix) q.set('prefix', prefix);
    const area = $('f-area').value.split(/[\s,]+/).filter((a) => /^\d{3}$/.test(a));
    if (area.length) q.set('area_code', area.join(','));
    const campaign = $('f-campaign').value.trim();
    if (campaign) q.set('campaign', campaign);
    const st = $('f-state').value;
    if (st === 'active') q.set('active', 'true');
    if (st === 'disabled') q.set('active', 'false');
    if (st === 'leased') q.set('leased', 'true');
    if (st === 'capped') q.set('limited', 'true');
    q.set('sort', state.sort);
    q.set('order', state.order);
    q.set('offset', String(state.offset));
    q.set('limit', $('f-limit').value);
    return q.toString();
  }

  let pollSeq = 0;
  async function poll() {
    const seq = ++pollSeq;
    const started = Date.now();
    clearTimeout(state.timer);
    try {
      const [stats, numbers, leases] = await Promise.all([
        api('GET', '/api/stats'),
        api('GET', '/api/numbers?' + numbersQuery()),
        api('GET', '/api/reservations?limit=1000'),
      ]);
      if (seq !== pollSeq) return;  // a newer poll (filter change) already drew the page
      renderStats(stats);
      renderNumbers(numbers, leases.items);
      renderLeases(leases.items);
      setText('banner', '');
      setText('updated', 'updated ' + new Date().toLocaleTimeString());
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    } catch (e) {
      if (e.status === 401) return;
      setText('banner', 'Cannot refresh: ' + e.message);
    }
    // Timed from the start of this poll, so the figures are never older than POLL_MS while a
    // poll takes less than that.
    if (state.polling && seq === pollSeq) {
      state.timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
    }
  }

  // --- rendering --------------------------------------------------------------------------------
  function renderStats(s) {
    setText('t-numbers', fmt(s.numbers));
    setText('t-active', fmt(s.active));
    setText('t-leased', fmt(s.leased_numbers));
    setText('t-capped-hour', fmt(s.capped_hourly));
    setText('t-capped-day', fmt(s.capped_daily));
    setText('t-disabled', fmt(s.disabled));
    setText('t-total-uses', fmt(s.total_uses));
    const live = s.live || {};
    setText('t-rps', (live.requests_per_s || 0).toFixed(1));
    const lat = live.lease_latency_ms || {};
    setText('t-latency', lat.max ? lat.mean.toFixed(2) + ' ms' : '–');
    $('t-latency').title = lat.max ? 'mean over the last minute; max ' + lat.max.toFixed(2) + ' ms' : '';
    const srv = s.server || {};
    setText('server-info', [srv.version && 'v' + srv.version, srv.backend, srv.time_zone]
      .filter(Boolean).join(' · '));
    drawStateChart(s);
    drawRateChart(live.series || { granted: [], denied: [] });
    renderCampaigns(s.leases_by_campaign || {});
    renderCoverage(s.area_codes || [], s.regions || []);
  }

  function numberState(n) {
    if (!n.active) return 'disabled';
    if (n.hourly_capped || n.daily_capped) return 'capped';
    if (n.active_leases > 0) return 'leased';
    return 'available';
  }
  function countCell(count, limit, capped) {
    return el('td', { class: capped ? 'over' : '' }, fmt(count) + (limit > 0 ? ' / ' + fmt(limit) : ''));
  }

  function renderNumbers(page, leases) {
    state.total = page.total;
    const byNumber = new Map();
    for (const l of leases) {
      if (!byNumber.has(l.caller_id)) byNumber.set(l.caller_id, []);
      byNumber.get(l.caller_id).push(l);
    }
    const rows = page.items.map((n) => {
      const st = numberState(n);
      const held = byNumber.get(n.caller_id) || [];
      const who = held.map((l) => (l.agent || '(no agent)') + ' · ' + l.campaign).join(', ');
      const toggle = el('button', {
        class: 'small secondary', type: 'button', dataset: { action: n.active ? 'disable' : 'enable' },
        onclick: () => act(toggle, () => api('PATCH', '/api/numbers/' + n.caller_id,
          JSON.stringify({ active: !n.active }))),
      }, n.active ? 'Disable' : 'Enable');
      const release = n.active_leases > 0 ? el('button', {
        class: 'small secondary', type: 'button', dataset: { action: 'release' },
        onclick: () => act(release, () => api('DELETE', '/api/reservation/' + n.caller_id)),
      }, 'Release') : null;
      return el('tr', { dataset: { callerId: n.caller_id, state: st } },
        el('td', {}, n.caller_id),
        el('td', { class: 'wrap carrier' }, n.carrier),
        el('td', {}, n.area_code),
        el('td', {}, el('span', { class: 'state ' + st }, st)),
        countCell(n.hour_count, n.hourly_limit, n.hourly_capped),
        countCell(n.day_count, n.daily_limit, n.daily_capped),
        el('td', { title: n.last_used || '' }, ago(n.last_used)),
        el('td', {}, fmt(n.total_uses)),
        el('td', { class: 'wrap leased-by' }, who),
        el('td', { class: 'wrap' }, n.campaigns.length ? n.campaigns.join(', ') : 'all'),
        el('td', {}, toggle, ' ', release));
    });
    $('numbers').tBodies[0].replaceChildren(...rows);
    if (!rows.length) {
      $('numbers').tBodies[0].append(el('tr', {}, el('td', { colspan: '11', class: 'muted' }, 'No numbers match.')));
    }
    const limit = Number($('f-limit').value);
    const first = page.total ? state.offset + 1 : 0;
    setText('page-info', fmt(first) + '–' + fmt(state.offset + page.items.length) + ' of ' + fmt(page.total));
    $('prev').disabled = state.offset === 0;
    $('next').disabled = state.offset + limit >= page.total;
    for (const th of document.querySelectorAll('#numbers th[data-sort]')) {
      th.classList.toggle('sorted-asc', th.dataset.sort === state.sort && state.order === 'asc');
      th.classList.toggle('sorted-desc', th.dataset.sort === state.sort && state.order === 'desc');
    }
  }

  async function act(button, fn) {
    button.disabled = true;
    try { await fn(); setText('banner', ''); } catch (e) {
      if (e.status !== 401) setText('banner', 'Action failed: ' + e.message);
    }
    refreshSoon();
  }

  function renderLeases(leases) {
    const recent = leases.slice().sort((a, b) => b.leased_at.localeCompare(a.leased_at)).slice(0, 15);
    const rows = recent.map((l) => {
      const release = el('button', {
        class: 'small secondary', type: 'button',
        onclick: () => act(release, () => api('DELETE', '/api/reservation/' + l.caller_id)),
      }, 'Release');
      return el('tr', { dataset: { callerId: l.caller_id } },
        el('td', { title: l.leased_at }, ago(l.leased_at)), el('td', {}, l.caller_id),
        el('td', { class: 'wrap' }, l.campaign), el('td', { class: 'wrap' }, l.agent),
        el('td', {}, l.destination), el('td', {}, l.match), el('td', {}, release));
    });
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '7', class: 'muted' }, 'No leases right now.')));
    $('leases').tBodies[0].replaceChildren(...rows);
  }

  function renderCampaigns(byCampaign) {
    const rows = Object.entries(byCampaign).sort((a, b) => b[1] - a[1])
      .map(([name, n]) => el('tr', {}, el('td', { class: 'wrap' }, name), el('td', {}, fmt(n))));
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '2', class: 'muted' }, 'No leases right now.')));
    $('campaigns').tBodies[0].replaceChildren(...rows);
  }

  function coverageStatus(numbers, available) {
    if (!numbers) return 'none';
    return available ? 'available' : 'exhausted';
  }
  function renderCoverage(areaCodes, regions) {
    const withNumbers = regions.filter((r) => r.numbers > 0)
      .sort((a, b) => b.numbers - a.numbers || a.region.localeCompare(b.region));
    $('regions').tBodies[0].replaceChildren(...withNumbers.map((r) => {
      const st = r.exhausted_area_codes && r.exhausted_area_codes === r.covered_area_codes ? 'exhausted'
        : coverageStatus(r.numbers, r.available);
      return el('tr', { dataset: { region: r.region } },
        el('td', {}, r.region ? r.region + (r.country && r.country !== 'US' ? ' (' + r.country + ')' : '') : 'non-geographic'),
        el('td', {}, r.covered_area_codes + ' of ' + r.area_codes +
          (r.exhausted_area_codes ? ' (' + r.exhausted_area_codes + ' exhausted)' : '')),
        el('td', {}, fmt(r.numbers)), el('td', {}, fmt(r.available)),
        el('td', {}, el('span', { class: 'state ' + st }, st)));
    }));
    // Exhausted area codes first: those are the ones needing numbers now.
    const acs = areaCodes.slice().sort((a, b) => (a.available > 0) - (b.available > 0) ||
      b.numbers - a.numbers || a.area_code.localeCompare(b.area_code));
    setText('area-codes-info', acs.length > 40 ? '(40 of ' + fmt(acs.length) + ', exhausted first)' : '');
    $('area-codes').tBodies[0].replaceChildren(...acs.slice(0, 40).map((a) => {
      const st = coverageStatus(a.numbers, a.available);
      return el('tr', { dataset: { areaCode: a.area_code } }, el('td', {}, a.area_code),
        el('td', {}, a.region || 'non-geographic'), el('td', {}, fmt(a.numbers)),
        el('td', {}, fmt(a.available)), el('td', {}, el('span', { class: 'state ' + st }, st)));
    }));
    const missing = regions.filter((r) => r.numbers === 0 && r.region && (r.country === 'US' || r.country === 'CA'))
      .map((r) => el('span', { title: r.area_codes + ' area codes' }, r.region));
    $('uncovered').replaceChildren(...(missing.length ? missing : ['Every US state and Canadian province has local numbers.']));
    drawRegionChart(withNumbers.slice(0, 15));
  }

  // --- charts (plain SVG) -----------------------------------------------------------------------
  const COLORS = { available: '#2f9e63', leased: '#2563eb', capped: '#d97706', disabled: '#9ca3af', denied: '#d97706' };

  function drawStateChart(s) {
    const capped = Math.max(s.capped_hourly, s.capped_daily);
    const leased = s.leased_numbers;
    const parts = [
      ['available', Math.max(0, s.active - leased - capped)], ['leased', leased],
      ['capped', capped], ['disabled', s.disabled]];
    const total = Math.max(1, parts.reduce((a, p) => a + p[1], 0));
    const g = $('chart-state');
    const nodes = [];
    let x = 0;
    for (const [name, v] of parts) {
      const w = (v / total) * 400;
      if (w > 0) nodes.push(svg('rect', { x, y: 10, width: w, height: 40, fill: COLORS[name] }));
      x += w;
    }
    if (!s.numbers) nodes.push(svg('rect', { x: 0, y: 10, width: 400, height: 40, fill: '#eceef2' }));
    g.replaceChildren(...nodes);
    $('legend-state').replaceChildren(...parts.map(([name, v]) =>
      el('span', { class: name }, name + ' ' + fmt(v))));
  }

  function drawRateChart(series) {
    const g = series.granted, d = series.denied;
    const n = Math.max(g.length, 1);
    const max = Math.max(1, ...g.map((v, i) => v + (d[i] || 0)));
    const bw = 400 / n;
    const nodes = [svg('line', { x1: 0, y1: 80, x2: 400, y2: 80, stroke: '#e3e6eb' })];
    for (let i = 0; i < g.length; i++) {
      const hg = (g[i] / max) * 70, hd = ((d[i] || 0) / max) * 70;
      if (hg) nodes.push(svg('rect', { x: i * bw + 0.5, y: 80 - hg, width: bw - 1, height: hg, fill: COLORS.available }));
      if (hd) nodes.push(svg('rect', { x: i * bw + 0.5, y: 80 - hg - hd, width: bw - 1, height: hd, fill: COLORS.denied }));
    }
    nodes.push(svg('text', { x: 2, y: 10 }, 'max ' + max + '/s'));
    nodes.push(svg('text', { x: 2, y: 90 }, '-60 s'));
    nodes.push(svg('text', { x: 375, y: 90 }, 'now'));
    $('chart-rate').replaceChildren(...nodes);
  }

  function drawRegionChart(regions) {
    const max = Math.max(1, ...regions.map((r) => r.numbers));
    const rowH = 20;
    const nodes = [];
    regions.forEach((r, i) => {
      const y = i * rowH;
      const w = (r.numbers / max) * 300, wa = (r.available / max) * 300;
      nodes.push(svg('text', { x: 0, y: y + 14 }, r.region || 'n/g'));
      nodes.push(svg('rect', { x: 50, y: y + 3, width: Math.max(w, 1), height: 14, fill: '#bfd3fb' }));
      nodes.push(svg('rect', { x: 50, y: y + 3, width: wa, height: 14, fill: COLORS.available }));
      nodes.push(svg('text', { x: 54 + Math.max(w, 1), y: y + 14 }, fmt(r.available) + '/' + fmt(r.numbers)));
    });
    const el2 = $('chart-regions');
    el2.setAttribute('viewBox', '0 0 400 ' + Math.max(rowH, regions.length * rowH));
    el2.replaceChildren(...nodes);
  }

  // --- wiring -----------------------------------------------------------------------------------
  async function importCsv(ev) {
    ev.preventDefault();
    const file = $('import-file').files[0];
    if (!file) { setText('import-result', 'Choose a CSV file first.'); return; }
    $('import-button').disabled = true;
    setText('import-result', 'Importing ' + file.name + '…');
    try {
      const r = await api('POST', '/api/numbers/import', await file.text(), 'text/csv');
      setText('import-result', 'Imported ' + fmt(r.inserted) + ' new, ' + fmt(r.updated) + ' updated, ' +
        fmt(r.rejected) + ' rejected' + (r.errors.length ? ' (line ' + r.errors[0].line + ': ' + r.errors[0].message + ')' : '') + '.');
    } catch (e) {
      if (e.status !== 401) setText('import-result', 'Import failed: ' + e.message);
    }
    $('import-button').disabled = false;
    refreshSoon();
  }

  let filterTimer = 0;
  function filtersChanged() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { state.offset = 0; refreshSoon(); }, 250);
  }

  function init() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('import-form').addEventListener('submit', importCsv);
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    for (const id of ['f-prefix', 'f-area', 'f-campaign']) $(id).addEventListener('input', filtersChanged);
    for (const id of ['f-state', 'f-limit']) $(id).addEventListener('change', () => { state.offset = 0; refreshSoon(); });
    $('prev').addEventListener('click', () => {
      state.offset = Math.max(0, state.offset - Number($('f-limit').value)); refreshSoon();
    });
    $('next').addEventListener('click', () => {
      state.offset += Number($('f-limit').value); refreshSoon();
    });
    for (const th of document.querySelectorAll('#numbers th[data-sort]')) {
      th.addEventListener('click', () => {
        if (state.sort === th.dataset.sort) state.order = state.order === 'asc' ? 'desc' : 'asc';
        else { state.sort = th.dataset.sort; state.order = th.dataset.sort === 'caller_id' ? 'asc' : 'desc'; }
        state.offset = 0;
        refreshSoon();
      });
    }
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.csrf) refreshSoon();
    });
    fetch('/dashboard/session', { credentials: 'same-origin', cache: 'no-store' })
      .then((r) => r.json())
      .then((s) => {
        if (s.authenticated) { state.csrf = s.csrf_token; showApp(); } else {
          showLogin(s.admin_enabled ? '' : 'No admin token is configured on the server (set ADMIN_TOKEN).');
        }
      })
      .catch(() => showLogin('Cannot reach the server.'));
  }
  init();
})();

// wasmhook dashboard: one dependency-free ES module, served from the admin listener.
//
// Everything that comes from the API (bodies, headers, errors, stderr, names) may be hostile,
// so the DOM is only ever built with createElement + text nodes (see h()). Links are only
// built for "#/..." hashes, with every data part passed through encodeURIComponent.

const TOKEN_KEY = 'wasmhook.token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const PAGE_SIZE = 50;
const OVERVIEW_POLL_MS = 2000;

const main = document.getElementById('view');

// ---------------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------------

/** Creates an element. Children that are strings or numbers become text nodes, never markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    // href is only set by link(), which refuses anything but a dashboard hash.
    if (name === 'href') throw new Error('use link() for href');
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An <a> to a view of this dashboard; the hash is built by the caller with enc(). */
function link(hash, attrs, ...children) {
  if (!hash.startsWith('#/')) throw new Error('links stay inside the dashboard');
  const a = h('a', attrs, ...children);
  a.setAttribute('href', hash);
  return a;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  return el;
}

function on(el, event, handler) {
  el.addEventListener(event, handler);
  return el;
}

const enc = encodeURIComponent;

/** A query string ("?a=1&b=2") of the non-empty values, or "". */
function qs(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  }
  const text = search.toString();
  return text ? '?' + text : '';
}

/** The query of a stored request (an object of names to values, credentials redacted). */
function requestQuery(query) {
  if (!query || typeof query !== 'object') return query ? '?' + String(query) : '';
  const pairs = Object.entries(query).map(([name, value]) => `${name}=${value}`);
  return pairs.length ? '?' + pairs.join('&') : '';
}

/** A class-safe word for a status value from the API. */
function cssWord(value) {
  return String(value ?? 'none').toLowerCase().replace(/[^a-z0-9-]/g, '');
}

function badge(status, extraClass) {
  return h('span', { class: `badge s-${cssWord(status)} ${extraClass || ''}`.trim() }, status ?? '—');
}

/** A table inside a horizontally scrolling box, so wide tables never widen the page. */
function table(attrs, heads, rows, emptyText) {
  const body = h('tbody', null, rows);
  if (!rows.length && emptyText) {
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: heads.length }, emptyText)));
  }
  return h('div', { class: 'scroll' },
    h('table', attrs, h('thead', null, h('tr', null, heads.map((t) => h('th', null, t)))), body));
}

function headersTable(headers) {
  const entries = Object.entries(headers || {});
  if (!entries.length) return h('p', { class: 'muted' }, 'no headers');
  return table({ class: 'kv' }, ['header', 'value'], entries.map(([name, value]) =>
    h('tr', null, h('td', { class: 'mono' }, name),
      h('td', { class: 'mono wrap' }, Array.isArray(value) ? value.join(', ') : String(value)))));
}

/** Label/value pairs as a <dl>; values may be nodes or text. Empty values are skipped. */
function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('div', null, h('dt', null, label), h('dd', null, value)));
  }
  return dl;
}

function errorText(text) {
  return text ? h('pre', { class: 'error-text' }, text) : null;
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const pad2 = (n) => String(n).padStart(2, '0');

/** Local time "2026-12-07 16:30:00"; the raw RFC 3339 UTC string stays in the title. */
function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function timeEl(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, fmtTime(iso)) : '—';
}

/** "45s", "3m 12s", "2h 5m", "1d 3h". */
function fmtAge(ms) {
  let s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return `${m}m ${s}s`;
  let hours = Math.floor(m / 60);
  m %= 60;
  if (hours < 24) return `${hours}h ${m}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function ageSince(iso, nowMs) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '—' : fmtAge(nowMs - t);
}

function fmtPerSecond(rate) {
  return (Number(rate?.per_second) || 0).toFixed(1) + '/s';
}

function fmtMs(value) {
  if (value === null || value === undefined) return '—';
  const n = Number(value);
  return (n < 10 ? n.toFixed(2) : n.toFixed(1)) + ' ms';
}

function fmtTimeout(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A body as the API gives it: a JSON value, or a string when it was not JSON. */
function pretty(value) {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

function sha12(sha) {
  return sha ? String(sha).slice(0, 12) : '—';
}

function shaEl(sha) {
  return h('code', { class: 'sha', title: sha || '' }, sha12(sha));
}

function pluginLabel(p) {
  const version = p.version === null || p.version === undefined ? '' : ` (v${p.version})`;
  return `${p.name ?? 'unknown'} @ ${sha12(p.sha256)}${version}`;
}

/** RFC 3339 UTC from a datetime-local value (which is local time), or "". */
function localInputToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** The datetime-local value for an RFC 3339 time, in the browser's time zone. */
function isoToLocalInput(iso) {
  const d = new Date(iso || '');
  if (!iso || Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

// ---------------------------------------------------------------------------------------------
// API access and the admin token
// ---------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the admin API with the session's token; throws ApiError with the server's text. */
async function api(path, method = 'GET', body) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err.message}`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const message = (data && typeof data.error === 'string' && data.error) || text || res.statusText;
    throw new ApiError(res.status, message);
  }
  return data;
}

/** For data a view can do without: a failure other than auth gives the fallback. */
async function optional(promise, fallback) {
  try {
    return await promise;
  } catch (err) {
    if (err.status === 401 || err.status === 403) throw err;
    return fallback;
  }
}

function updateSignOut() {
  document.getElementById('sign-out').hidden = !sessionStorage.getItem(TOKEN_KEY);
}

/** Replaces the view with the token form; the view's timers stop since its generation ends. */
function showLogin() {
  const hadToken = Boolean(sessionStorage.getItem(TOKEN_KEY));
  // A stored token that the server refuses is of no further use.
  sessionStorage.removeItem(TOKEN_KEY);
  updateSignOut();
  leaveView();
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'current-password',
    required: true, spellcheck: 'false',
  });
  const form = h('form', { id: 'login', class: 'card login' },
    h('h1', null, 'Admin token'),
    h('p', null, 'This wasmhook asks for its admin token. It is kept in this tab only ' +
      '(session storage) and sent as a bearer token.'),
    hadToken ? h('p', { class: 'error' }, 'The server did not accept that token.') : null,
    h('label', { for: 'token' }, 'Token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  on(form, 'submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    updateSignOut();
    route();
  });
  main.replaceChildren(form);
  main.dataset.ready = 'login';
  input.focus();
}

function showError(err) {
  if (err.status === 401) return showLogin();
  const title = err.status === 403 ? 'Not allowed'
    : err.status === 404 ? 'Not found'
      : err.status ? `Error ${err.status}` : 'Error';
  main.replaceChildren(h('div', { class: 'card failure' },
    h('h1', null, title),
    h('pre', { class: 'error-text' }, err.message || String(err)),
    h('p', null, on(h('button', { type: 'button' }, 'Try again'), 'click', route))));
  main.dataset.ready = 'error';
}

// ---------------------------------------------------------------------------------------------
// Router: "#/view/param?query". Each navigation starts a new generation; timers and pending
// fetches of an older generation find themselves stale and stop.
// ---------------------------------------------------------------------------------------------

let generation = 0;
const timers = new Set();

function leaveView() {
  generation += 1;
  for (const id of timers) clearTimeout(id);
  timers.clear();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const cut = raw.indexOf('?');
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1));
  const segments = path.split('/').filter(Boolean).map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
  return { segments, query };
}

/** Navigates to a hash; re-renders when it is the current one (no hashchange then). */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** What a view gets: its query, a liveness check, and timers tied to its generation. */
function makeContext(gen, query) {
  const alive = () => gen === generation;
  const ctx = {
    query,
    alive,
    /** Puts the view's content in place in one step and marks it ready. */
    show(node, name) {
      if (!alive()) return;
      main.replaceChildren(node);
      main.dataset.ready = name;
    },
    later(fn, ms) {
      if (!alive()) return;
      const id = setTimeout(() => {
        timers.delete(id);
        if (alive()) fn();
      }, ms);
      timers.add(id);
    },
    /** Resolves after ms while the view is shown; never resolves once it is left. */
    sleep(ms) {
      return new Promise((resolve) => ctx.later(resolve, ms));
    },
    /**
     * Runs an action of a shown view: data-ready is off while it runs, a 401 asks for the
     * token, and any other failure is written into errorEl.
     */
    async task(name, errorEl, fn) {
      if (!alive()) return;
      main.removeAttribute('data-ready');
      if (errorEl) errorEl.textContent = '';
      try {
        await fn();
      } catch (err) {
        if (!alive()) return;
        if (err.status === 401) return showLogin();
        if (errorEl) errorEl.textContent = err.message || String(err);
      } finally {
        if (alive()) main.dataset.ready = name;
      }
    },
  };
  return ctx;
}

const views = {
  overview: overviewView,
  events: eventsView,
  event: eventView,
  dead: deadView,
  subscribers: subscribersView,
  plugins: pluginsView,
  debugger: debuggerView,
  config: configView,
};

function resolve(segments) {
  const [first = 'overview', second] = segments;
  if (first === 'events' && second !== undefined) return { name: 'event', nav: 'events', param: second };
  if (first !== 'event' && Object.hasOwn(views, first) && second === undefined) {
    return { name: first, nav: first };
  }
  return null;
}

function markNav(name) {
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  leaveView();
  const gen = generation;
  const { segments, query } = parseHash();
  const target = resolve(segments);
  markNav(target?.nav);
  main.removeAttribute('data-ready');
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  if (!target) {
    showError(new ApiError(404, `There is no view at ${location.hash}.`));
    return;
  }
  const ctx = makeContext(gen, query);
  views[target.name](ctx, target.param).catch((err) => {
    if (ctx.alive()) showError(err);
  });
}

/** Changes one parameter of the hash without a re-render (no hashchange). */
function setHashParam(name, value) {
  const { segments, query } = parseHash();
  if (value) query.set(name, value);
  else query.delete(name);
  const search = query.toString();
  history.replaceState(null, '', `#/${segments.map(enc).join('/')}${search ? '?' + search : ''}`);
}

function viewHead(title, ...extra) {
  return h('div', { class: 'view-head' }, h('h1', null, title), extra);
}

/** Per list and filter set: the cursor shown and the cursors of the newer pages before it. */
const pagerMemory = new Map();

/**
 * Older/newer paging over the server's `next` cursor. The page shown is kept in the hash
 * (`before=`) and its newer cursors in memory, so coming back from an event to the list
 * lands on the same page with "← Newer" still working.
 */
function pager(ids, memoryKey, startCursor, load) {
  const remembered = pagerMemory.get(memoryKey);
  // A linked page without remembered history can still go back to the newest page.
  let stack = remembered && remembered.cursor === startCursor ? [...remembered.stack]
    : startCursor ? [''] : [];
  let cursor = startCursor;
  let next = null;
  const moved = () => {
    pagerMemory.set(memoryKey, { stack: [...stack], cursor });
    setHashParam('before', cursor);
  };
  const newer = h('button', { id: ids.newer, type: 'button', disabled: true }, '← Newer');
  const older = h('button', { id: ids.older, type: 'button', disabled: true }, 'Older →');
  const sync = () => {
    newer.disabled = stack.length === 0;
    older.disabled = !next;
  };
  on(older, 'click', () => {
    if (!next) return;
    const target = next;
    load(target, () => { stack.push(cursor); cursor = target; moved(); });
  });
  on(newer, 'click', () => {
    if (!stack.length) return;
    const target = stack[stack.length - 1];
    load(target, () => { stack.pop(); cursor = target; moved(); });
  });
  return {
    el: h('div', { class: 'pager' }, newer, older),
    /** Called with the `next` of the page now shown. */
    set(nextCursor) { next = nextCursor || null; sync(); },
    get cursor() { return cursor; },
  };
}

// ---------------------------------------------------------------------------------------------
// Overview: every route as a flow, polled and updated in place.
// ---------------------------------------------------------------------------------------------

async function overviewView(ctx) {
  let shape = null;
  let built = null;
  for (;;) {
    let data;
    try {
      data = await api('/api/overview');
    } catch (err) {
      // Before the first render the router shows the error; afterwards keep the last numbers
      // on screen and say they are stale.
      if (!built || err.status === 401) throw err;
      built.stale(err);
      await ctx.sleep(OVERVIEW_POLL_MS);
      continue;
    }
    if (!ctx.alive()) return;
    const nextShape = overviewShape(data);
    if (nextShape !== shape) {
      // The wiring changed (or first load): build anew, then swap it in whole.
      built = buildOverview(data);
      shape = nextShape;
      built.update(data);
      ctx.show(built.el, 'overview');
    } else {
      built.update(data);
    }
    await ctx.sleep(OVERVIEW_POLL_MS);
  }
}

/** What decides the overview's structure; numbers alone only update text. */
function overviewShape(data) {
  return JSON.stringify((data.routes || []).map((r) =>
    [r.name, r.source, r.filters, r.transforms, r.subscribers, r.held_by]));
}

function buildOverview(data) {
  const updaters = [];
  const bind = (fn) => updaters.push(fn);
  const updated = h('span', { class: 'updated' });
  const live = h('p', { class: 'live' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), updated);
  const routes = data.routes || [];
  const el = h('div', { class: 'overview' },
    viewHead('Overview', live),
    routes.length ? routes.map((r) => routeFlow(r, bind))
      : h('p', { class: 'empty' }, 'No routes are configured.'));
  return {
    el,
    update(d) {
      live.classList.remove('stale');
      updated.textContent = `live · ${fmtTime(d.at)}`;
      const index = {
        now: Date.parse(d.at) || Date.now(),
        routes: new Map((d.routes || []).map((r) => [r.name, r])),
        subscribers: new Map((d.subscribers || []).map((s) => [s.name, s])),
      };
      for (const fn of updaters) fn(index);
    },
    stale(err) {
      live.classList.add('stale');
      updated.textContent = `stale · ${err.message}`;
    },
  };
}

function routeFlow(route, bind) {
  const get = (index) => index.routes.get(route.name);
  const held = route.held_by?.length
    ? h('p', { class: 'held' }, `holding its events: no version of ${route.held_by.join(', ')}`)
    : null;
  const subscribers = route.subscribers || [];
  return h('section', { class: 'route', 'data-route': route.name },
    h('header', { class: 'route-head' },
      h('h2', null, route.name),
      link(`#/events${qs({ source: route.source })}`, { class: 'small' }, 'events'),
      held),
    h('div', { class: 'flow' },
      flowNode('source', [route.source], 'source'),
      flowEdge(rateWidget('accepted', 'accepted', (i) => get(i)?.rates?.accepted, bind)),
      flowNode('filters', route.filters, 'filters',
        rateWidget('filtered', 'filtered out', (i) => get(i)?.rates?.filtered, bind)),
      flowEdge(),
      flowNode('transforms', route.transforms, 'transforms'),
      h('div', { class: 'lanes' },
        subscribers.length ? subscribers.map((name) => subscriberLane(name, bind))
          : h('div', { class: 'lane' }, flowEdge(), h('div', { class: 'node muted' }, 'no subscribers')))));
}

function flowNode(kind, names, label, ...extra) {
  const list = names?.length
    ? h('ul', null, names.map((n) => h('li', null, n)))
    : h('p', { class: 'muted' }, 'none');
  return h('div', { class: `node n-${kind}` }, h('div', { class: 'node-kind' }, label), list, extra);
}

/** An arrow between two boxes, with the rates that flow along it. */
function flowEdge(...rates) {
  return h('div', { class: 'edge' }, h('div', { class: 'rates' }, rates),
    h('div', { class: 'arrow', 'aria-hidden': 'true' }));
}

/** "accepted 3.2/s 812 in 5m ⌇sparkline"; get() picks the RATE out of the polled index. */
function rateWidget(kind, label, get, bind) {
  const perSecond = h('span', { class: 'per-second' });
  const count = h('span', { class: 'count' });
  const line = svg('polyline', { points: '' });
  const spark = svg('svg', {
    class: 'spark', viewBox: '0 0 60 16', preserveAspectRatio: 'none', 'aria-hidden': 'true',
  });
  spark.append(line);
  const el = h('div', { class: `rate r-${kind}`, 'data-rate': kind },
    h('span', { class: 'rate-label' }, label), ' ', perSecond, ' ',
    h('span', { class: 'n5' }, count, ' in 5m'), spark);
  bind((index) => {
    const rate = get(index) || {};
    perSecond.textContent = fmtPerSecond(rate);
    count.textContent = String(Math.trunc(Number(rate.last_5m) || 0));
    line.setAttribute('points', sparkPoints(rate.series));
    el.classList.toggle('zero', !(Number(rate.last_5m) > 0));
  });
  return el;
}

/** Polyline points for 60 buckets in a 60×16 box, scaled to the largest bucket. */
function sparkPoints(series) {
  const values = Array.isArray(series) && series.length ? series.map((v) => Number(v) || 0) : [0, 0];
  const max = Math.max(1, ...values);
  const step = 60 / Math.max(1, values.length - 1);
  return values.map((v, i) => `${(i * step).toFixed(1)},${(15 - (v / max) * 14).toFixed(1)}`).join(' ');
}

function subscriberLane(name, bind) {
  const get = (index) => index.subscribers.get(name);
  const state = h('span', { class: 'sub-state' });
  const circuit = h('span', { class: 'circuit' });
  const pending = h('span', { class: 'pending' });
  const age = h('span', { class: 'age' });
  const dead = h('span', { class: 'dead' });
  const lastError = h('p', { class: 'last-error' });
  const box = h('div', { class: 'node subscriber' },
    h('div', { class: 'node-kind' }, 'subscriber'),
    h('div', { class: 'node-name' }, name),
    h('div', { class: 'states' }, state, circuit),
    h('div', { class: 'queue' },
      h('span', null, pending, ' pending'),
      h('span', null, 'oldest ', age),
      h('span', null, dead, ' dead')),
    lastError);
  bind((index) => {
    const s = get(index);
    if (!s) {
      state.textContent = 'unknown';
      return;
    }
    state.textContent = s.disabled ? 'disabled' : 'enabled';
    state.className = `sub-state badge ${s.disabled ? 's-disabled' : 's-enabled'}`;
    const c = s.circuit?.state || 'off';
    circuit.textContent = c === 'off' ? '' : `circuit ${c}`;
    circuit.className = `circuit badge c-${cssWord(c)}`;
    circuit.hidden = c === 'off';
    pending.textContent = String(s.pending ?? 0);
    pending.classList.toggle('warn', s.pending > 0);
    age.textContent = s.oldest_pending_at ? ageSince(s.oldest_pending_at, index.now) : '—';
    dead.textContent = String(s.dead ?? 0);
    dead.classList.toggle('bad', s.dead > 0);
    const e = s.last_error;
    lastError.textContent = e ? `last error ${fmtTime(e.at)}${e.status ? ` · ${e.status}` : ''} · ${e.error}` : '';
    lastError.hidden = !e;
    lastError.title = e ? e.error : '';
    box.classList.toggle('is-disabled', Boolean(s.disabled));
    box.classList.toggle('is-open', c === 'open');
  });
  return h('div', { class: 'lane', 'data-subscriber': name },
    flowEdge(
      rateWidget('delivered', 'delivered', (i) => get(i)?.rates?.delivered, bind),
      rateWidget('failed', 'failed', (i) => get(i)?.rates?.failed, bind)),
    box);
}

// ---------------------------------------------------------------------------------------------
// Events: filtered, server-paginated list. Filters live in the hash so a view can be linked.
// ---------------------------------------------------------------------------------------------

const EVENT_FILTERS = ['source', 'status', 'type', 'since', 'until', 'q'];

async function eventsView(ctx) {
  const filters = Object.fromEntries(EVENT_FILTERS.map((k) => [k, ctx.query.get(k) || '']));
  const start = ctx.query.get('before') || '';
  const [routes, first] = await Promise.all([
    optional(api('/api/routes'), { routes: [] }),
    api('/api/events' + qs({ ...filters, before: start, limit: PAGE_SIZE })),
  ]);
  const sources = [...new Set((routes.routes || []).map((r) => r.source))];
  const tbody = h('tbody');
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const fill = (data) => {
    const rows = (data.events || []).map(eventRow);
    if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colspan: 5 }, 'No events match.')));
    tbody.replaceChildren(...rows);
  };
  const paging = pager({ older: 'older', newer: 'newer' }, 'events' + qs(filters), start, (before, commit) =>
    ctx.task('events', errorLine, async () => {
      const data = await api('/api/events' + qs({ ...filters, before, limit: PAGE_SIZE }));
      if (!ctx.alive()) return;
      commit();
      fill(data);
      paging.set(data.next);
    }));
  fill(first);
  paging.set(first.next);
  const heads = ['received', 'id', 'source', 'type', 'status'];
  ctx.show(h('div', null,
    viewHead('Events'),
    eventFilterForm(filters, sources),
    errorLine,
    h('div', { class: 'scroll' }, h('table', { id: 'events' },
      h('thead', null, h('tr', null, heads.map((t) => h('th', null, t)))), tbody)),
    paging.el), 'events');
}

function eventRow(ev) {
  return h('tr', { 'data-event': ev.id },
    h('td', { class: 'nowrap' }, timeEl(ev.received_at)),
    h('td', null, link(`#/events/${enc(ev.id)}`, { class: 'mono' }, ev.id)),
    h('td', null, ev.source),
    h('td', { class: 'mono' }, ev.type ?? '—'),
    h('td', null, badge(ev.status, 'status')));
}

function eventFilterForm(filters, sources) {
  const options = (values, current, anyLabel) => {
    const list = values.includes(current) || !current ? values : [...values, current];
    return [h('option', { value: '' }, anyLabel),
      ...list.map((v) => h('option', { value: v, selected: v === current }, v))];
  };
  const field = (label, control, cls) => h('label', { class: `field ${cls || ''}` }, h('span', null, label), control);
  const form = h('form', { id: 'event-filters', class: 'filters' },
    field('Source', h('select', { name: 'source' }, options(sources, filters.source, 'any source')), 'half'),
    field('Status', h('select', { name: 'status' },
      options(['received', 'processed'], filters.status, 'any status')), 'half'),
    field('Type', h('input', { name: 'type', type: 'text', value: filters.type, placeholder: 'push' })),
    field('Since', h('input', {
      name: 'since', type: 'datetime-local', step: '1', value: isoToLocalInput(filters.since),
    })),
    field('Until', h('input', {
      name: 'until', type: 'datetime-local', step: '1', value: isoToLocalInput(filters.until),
    })),
    field('Search', h('input', {
      name: 'q', type: 'search', value: filters.q, placeholder: 'event, message or delivery id',
    })),
    h('div', { class: 'field buttons' },
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
      link('#/events', { class: 'small' }, 'clear')));
  on(form, 'submit', (e) => {
    e.preventDefault();
    const v = (name) => form.elements[name].value.trim();
    go('#/events' + qs({
      source: v('source'), status: v('status'), type: v('type'),
      since: localInputToIso(v('since')), until: localInputToIso(v('until')), q: v('q'),
    }));
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// Event page: the request, every message with its attempts, replay.
// ---------------------------------------------------------------------------------------------

async function eventView(ctx, id) {
  const [ev, routes] = await Promise.all([
    api(`/api/events/${enc(id)}`),
    optional(api('/api/routes'), { routes: [] }),
  ]);
  const messages = ev.messages || [];
  const debugRoute = messages[0]?.route ??
    (routes.routes || []).find((r) => r.source === ev.source)?.name ?? '';
  const note = h('p', { class: 'note', role: 'status' });
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const list = h('div', { class: 'messages' });
  const count = h('span', { class: 'muted' });
  const status = h('span');
  const showMessages = (msgs, known) => {
    count.textContent = `(${msgs.length})`;
    list.replaceChildren(...(msgs.length ? msgs.map((m) => messageSection(m, known))
      : [h('p', { class: 'empty' }, 'No messages: no route took this event (yet).')]));
  };
  showMessages(messages, null);
  status.replaceChildren(badge(ev.status));

  const replay = h('button', { id: 'replay', type: 'button' }, 'Replay');
  on(replay, 'click', () => ctx.task('event', errorLine, async () => {
    replay.disabled = true;
    try {
      await replayAndWait(ctx, id, note, (fresh, known) => {
        status.replaceChildren(badge(fresh.status));
        showMessages(fresh.messages || [], known);
      });
    } finally {
      replay.disabled = false;
    }
  }));

  const req = ev.request || {};
  ctx.show(h('div', { class: 'event' },
    viewHead('Event', h('code', { class: 'big' }, ev.id)),
    facts([['source', ev.source], ['type', ev.type], ['received', timeEl(ev.received_at)],
      ['status', status]]),
    h('div', { class: 'actions' }, replay,
      link(`#/debugger${qs({ route: debugRoute, event: ev.id })}`, { id: 'debug-event', class: 'button' },
        'Debug this event'),
      note, errorLine),
    h('section', { class: 'card' },
      h('h2', null, 'Request'),
      h('p', { class: 'mono wrap' }, `${req.method ?? ''} ${req.path ?? ''}${requestQuery(req.query)}`),
      headersTable(req.headers),
      h('h3', null, 'Body'),
      h('pre', { id: 'event-body', class: 'body' }, pretty(ev.body))),
    h('h2', null, 'Messages ', count),
    list), 'event');
}

/** Replays, then re-reads the event each second until new messages show (at most ~10 s). */
async function replayAndWait(ctx, id, note, render) {
  const before = await api(`/api/events/${enc(id)}`);
  const known = new Set((before.messages || []).map((m) => m.id));
  await api(`/api/events/${enc(id)}/replay`, 'POST');
  note.textContent = 'replayed: new messages appear below';
  for (let waited = 0; waited < 10000; waited += 1000) {
    await ctx.sleep(1000);
    const fresh = await api(`/api/events/${enc(id)}`);
    if ((fresh.messages || []).length > known.size) {
      render(fresh, known);
      return;
    }
  }
  note.textContent = 'replayed: new messages appear below (none yet; reload this page later)';
}

function messageSection(m, known) {
  const isNew = known && !known.has(m.id);
  return h('section', { class: `message card${isNew ? ' new' : ''}`, 'data-message': m.id },
    h('header', { class: 'message-head' },
      h('h3', null, m.route ?? '—', ' → ', m.subscriber ?? '—'),
      badge(m.status, 'status'),
      isNew ? h('span', { class: 'badge s-new' }, 'new') : null),
    facts([['message', h('code', null, m.id)], ['type', m.type], ['key', m.key],
      ['created', timeEl(m.created_at)],
      ['next attempt', m.next_attempt_at ? timeEl(m.next_attempt_at) : null]]),
    errorText(m.error),
    h('p', { class: 'plugins' }, h('span', { class: 'muted' }, 'produced by '),
      (m.plugins || []).length ? m.plugins.map((p) => h('code', { title: p.sha256 || '' }, pluginLabel(p)))
        : 'no plugin'),
    h('details', null, h('summary', null, 'headers'), headersTable(m.headers)),
    h('pre', { class: 'message-body body' }, pretty(m.body)),
    attemptsTable(m.attempts || []));
}

function attemptsTable(attempts) {
  return table({ class: 'attempts' }, ['time', 'status', 'latency', 'response', 'error', 'node'],
    attempts.map((a) => h('tr', { class: 'attempt' },
      h('td', { class: 'nowrap' }, timeEl(a.at)),
      h('td', null, a.status === null || a.status === undefined ? '—'
        : h('span', { class: `code ${a.status >= 200 && a.status < 300 ? 'ok' : 'bad'}` }, a.status)),
      h('td', { class: 'nowrap' }, a.latency_ms === null || a.latency_ms === undefined ? '—' : `${a.latency_ms} ms`),
      h('td', null, a.response ? h('pre', { class: 'excerpt' }, a.response) : '—'),
      h('td', null, a.error ? h('pre', { class: 'excerpt error-text' }, a.error) : '—'),
      h('td', { class: 'mono' }, a.node ?? '—'))),
    'No attempts yet.');
}

// ---------------------------------------------------------------------------------------------
// Dead letters: retry one, or all of a subscriber with live progress.
// ---------------------------------------------------------------------------------------------

async function deadView(ctx) {
  const subscriber = ctx.query.get('subscriber') || '';
  const listPath = (before) => '/api/messages' + qs({ status: 'dead', subscriber, before, limit: PAGE_SIZE });
  const start = ctx.query.get('before') || '';
  const [subs, first] = await Promise.all([api('/api/subscribers'), api(listPath(start))]);
  const all = subs.subscribers || [];
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const tbody = h('tbody');
  const fill = (data) => {
    const rows = (data.messages || []).map((m) => deadRow(ctx, m));
    if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No dead messages.')));
    tbody.replaceChildren(...rows);
  };
  const showPage = (data) => {
    fill(data);
    paging.set(data.next);
  };
  const paging = pager({ older: 'dead-older', newer: 'dead-newer' }, 'dead' + qs({ subscriber }), start, (before, commit) =>
    ctx.task('dead', errorLine, async () => {
      const data = await api(listPath(before));
      if (!ctx.alive()) return;
      commit();
      showPage(data);
    }));
  showPage(first);
  // After a "retry all", the page shown is read again: its messages may have left the dead.
  const refresh = () => ctx.task('dead', errorLine, async () => {
    const data = await api(listPath(paging.cursor));
    if (ctx.alive()) showPage(data);
  });

  const select = h('select', { id: 'dead-subscriber', name: 'subscriber' },
    h('option', { value: '' }, 'all subscribers'),
    all.map((s) => h('option', { value: s.name, selected: s.name === subscriber }, s.name)));
  on(select, 'change', () => go('#/dead' + qs({ subscriber: select.value })));

  const shown = subscriber ? all.filter((s) => s.name === subscriber) : all;
  // Status and action come first so they stay on screen when the table scrolls on a phone.
  const heads = ['status', '', 'created', 'subscriber', 'route', 'message', 'event', 'error'];
  ctx.show(h('div', null,
    viewHead('Dead letters', h('label', { class: 'field inline' }, h('span', null, 'Subscriber'), select)),
    h('div', { class: 'retry-all-list' }, shown.map((s) => retryAllCard(ctx, s, refresh))),
    errorLine,
    h('div', { class: 'scroll' }, h('table', { id: 'dead' },
      h('thead', null, h('tr', null, heads.map((t) => h('th', null, t)))), tbody)),
    paging.el), 'dead');
}

function deadRow(ctx, m) {
  const statusCell = h('td', { class: 'status' }, badge(m.status || 'dead'));
  const note = h('span', { class: 'error' });
  const retry = h('button', { type: 'button', class: 'retry' }, 'Retry');
  on(retry, 'click', async () => {
    retry.disabled = true;
    note.textContent = '';
    try {
      const res = await api(`/api/messages/${enc(m.id)}/retry`, 'POST');
      statusCell.replaceChildren(badge(res?.status || 'pending'));
      retry.textContent = 'Retried';
    } catch (err) {
      if (err.status === 401) return showLogin();
      note.textContent = err.status === 409 ? `not dead any more: ${err.message}` : err.message;
      retry.disabled = false;
    }
  });
  return h('tr', { 'data-message': m.id },
    statusCell,
    h('td', null, retry, note),
    h('td', { class: 'nowrap' }, timeEl(m.created_at)),
    h('td', null, m.subscriber),
    h('td', null, m.route),
    h('td', { class: 'mono' }, m.id),
    h('td', null, link(`#/events/${enc(m.event_id)}`, { class: 'mono' }, m.event_id)),
    h('td', { class: 'wide' }, m.error ? h('pre', { class: 'excerpt error-text' }, m.error) : '—'));
}

function retryAllCard(ctx, s, refresh) {
  const deadCount = h('span', { class: 'dead-count' }, `${s.dead ?? 0} dead · ${s.pending ?? 0} pending`);
  const progress = h('p', { class: 'progress', 'data-subscriber': s.name, role: 'status' });
  const button = h('button', { type: 'button', class: 'retry-all', 'data-subscriber': s.name },
    `Retry all dead of ${s.name}`);
  on(button, 'click', async () => {
    button.disabled = true;
    progress.classList.remove('error');
    try {
      const res = await api(`/api/subscribers/${enc(s.name)}/retry-dead`, 'POST');
      await followRetry(ctx, s.name, res?.retried ?? 0, progress, deadCount);
      if (ctx.alive()) await refresh();
    } catch (err) {
      if (err.status === 401) return showLogin();
      progress.classList.add('error');
      progress.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'retry-all-card' },
    h('div', null, h('strong', null, s.name), ' ', deadCount), button, progress);
}

/** Polls the subscribers every second until the retried messages have left the queue. */
async function followRetry(ctx, name, retried, progress, deadCount) {
  for (;;) {
    const data = await api('/api/subscribers');
    if (!ctx.alive()) return;
    const s = (data.subscribers || []).find((x) => x.name === name) || {};
    const pending = s.pending ?? 0;
    const dead = s.dead ?? 0;
    deadCount.textContent = `${dead} dead · ${pending} pending`;
    progress.textContent = `${retried} retried · ${pending} pending · ${dead} dead${pending === 0 ? ' · done' : ''}`;
    if (pending === 0) return;
    await ctx.sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Subscribers
// ---------------------------------------------------------------------------------------------

async function subscribersView(ctx) {
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const holder = h('div');
  const render = async () => {
    const data = await api('/api/subscribers');
    if (!ctx.alive()) return;
    holder.replaceChildren(subscribersTable(data.subscribers || [], toggle));
  };
  const toggle = (s) => ctx.task('subscribers', errorLine, async () => {
    await api(`/api/subscribers/${enc(s.name)}/${s.disabled ? 'enable' : 'disable'}`, 'POST');
    await render();
  });
  await render();
  ctx.show(h('div', null, viewHead('Subscribers'), errorLine, holder), 'subscribers');
}

function subscribersTable(subscribers, toggle) {
  const now = Date.now();
  const heads = ['name', 'state', 'endpoint', 'delivery', 'retry schedule', 'circuit', 'queue',
    'last error', ''];
  return table({ id: 'subscribers' }, heads, subscribers.map((s) => {
    const button = h('button', { type: 'button', class: 'toggle' }, s.disabled ? 'Enable' : 'Disable');
    on(button, 'click', () => { button.disabled = true; toggle(s); });
    const c = s.circuit || { state: 'off' };
    const e = s.last_error;
    return h('tr', { 'data-subscriber': s.name, class: s.disabled ? 'is-disabled' : null },
      h('td', null, h('strong', null, s.name)),
      h('td', null,
        h('span', { class: `state badge ${s.disabled ? 's-disabled' : 's-enabled'}` },
          s.disabled ? 'disabled' : 'enabled'),
        s.disabled_at ? h('div', { class: 'small muted' }, 'since ', timeEl(s.disabled_at)) : null,
        s.disabled_reason ? h('div', { class: 'small' }, s.disabled_reason) : null),
      h('td', { class: 'wide' },
        h('div', { class: 'mono wrap' }, s.url),
        h('div', { class: 'small' }, s.secret ? ['secret ', h('code', null, s.secret)] : 'unsigned'),
        s.headers?.length ? h('div', { class: 'small muted' }, 'headers: ', s.headers.join(', ')) : null),
      h('td', { class: 'small nowrap' },
        h('div', null, s.ordering), h('div', null, `timeout ${fmtTimeout(s.timeout_ms)}`),
        h('div', null, `concurrency ${s.concurrency ?? '—'}`), h('div', null, `rate ${s.rate ?? 'unlimited'}`)),
      h('td', { class: 'small' }, (s.retry || []).join(' → ') || 'no retries'),
      h('td', null, badge(c.state, `c-${cssWord(c.state)}`),
        c.reason ? h('div', { class: 'small' }, c.reason) : null,
        c.opened_at ? h('div', { class: 'small muted' }, 'opened ', timeEl(c.opened_at)) : null,
        c.next_probe_at ? h('div', { class: 'small muted' }, 'next probe ', timeEl(c.next_probe_at)) : null,
        c.probes !== undefined && c.probes !== null ? h('div', { class: 'small muted' }, `probes ${c.probes}`) : null),
      h('td', { class: 'small nowrap' },
        h('div', null, h('span', { class: s.pending > 0 ? 'warn' : null }, String(s.pending ?? 0)), ' pending'),
        s.oldest_pending_at ? h('div', { class: 'muted' }, 'oldest ', ageSince(s.oldest_pending_at, now)) : null,
        h('div', null, link(`#/dead${qs({ subscriber: s.name })}`, { class: s.dead > 0 ? 'bad' : null },
          `${s.dead ?? 0} dead`))),
      h('td', { class: 'wide small' }, e ? [timeEl(e.at), e.status ? ` · ${e.status}` : '',
        h('pre', { class: 'excerpt error-text' }, e.error)] : '—'),
      h('td', null, button));
  }), 'No subscribers are configured.');
}

// ---------------------------------------------------------------------------------------------
// Plugins
// ---------------------------------------------------------------------------------------------

async function pluginsView(ctx) {
  const data = await api('/api/plugins');
  const heads = ['name', 'kind', 'version', 'sha256', 'loaded', 'state', 'last load error', 'calls',
    'p50 / p99', 'errors'];
  const rows = (data.plugins || []).map((p) => {
    const stats = p.stats || {};
    const errors = Object.entries(stats.errors || {}).filter(([, n]) => Number(n) > 0)
      .map(([kind, n]) => `${kind} ${n}`).join(' · ');
    return h('tr', { 'data-plugin': p.name ?? '' },
      h('td', null, h('strong', null, p.name ?? 'unknown'), h('div', { class: 'small muted mono path' }, p.path)),
      h('td', null, p.kind ?? '—'),
      h('td', null, p.version ?? '—'),
      h('td', null, shaEl(p.sha256)),
      h('td', { class: 'nowrap' }, timeEl(p.loaded_at)),
      h('td', null, badge(p.state)),
      h('td', { class: p.last_error ? 'wide' : null }, p.last_error
        ? [h('pre', { class: 'excerpt error-text' }, p.last_error.message), h('div', { class: 'small muted' }, timeEl(p.last_error.at))]
        : '—'),
      h('td', { class: 'num' }, String(stats.calls ?? 0)),
      h('td', { class: 'nowrap' }, `${fmtMs(stats.p50_ms)} / ${fmtMs(stats.p99_ms)}`),
      h('td', { class: errors ? 'bad nowrap' : 'muted' }, errors || 'none'));
  });
  ctx.show(h('div', null,
    viewHead('Plugins'),
    data.config_error ? h('div', { class: 'card failure' }, h('h2', null, 'Configuration error'),
      h('pre', { class: 'error-text' }, data.config_error.message ?? String(data.config_error)),
      data.config_error.at ? h('div', { class: 'small muted' }, timeEl(data.config_error.at)) : null) : null,
    table({ id: 'plugins' }, heads, rows, 'No plugins are loaded.')), 'plugins');
}

// ---------------------------------------------------------------------------------------------
// Route debugger: a dry run of a route on a stored event or a pasted request.
// ---------------------------------------------------------------------------------------------

async function debuggerView(ctx) {
  const { routes = [] } = await api('/api/routes');
  const wanted = ctx.query.get('route') || '';
  const names = routes.map((r) => r.name);
  if (wanted && !names.includes(wanted)) names.push(wanted);
  const select = h('select', { id: 'dbg-route', name: 'route', required: true },
    names.map((n) => h('option', { value: n, selected: n === wanted }, n)));
  const eventInput = h('input', {
    id: 'dbg-event', name: 'event', type: 'text', value: ctx.query.get('event') || '',
    placeholder: 'evt_…', spellcheck: 'false',
  });
  const body = h('textarea', { id: 'dbg-body', name: 'body', rows: 8, spellcheck: 'false', placeholder: '{"ref": "refs/heads/main"}' });
  const headers = h('textarea', {
    id: 'dbg-headers', name: 'headers', rows: 4, spellcheck: 'false',
    placeholder: 'content-type: application/json\nx-github-event: push',
  });
  const run = h('button', { id: 'dbg-run', type: 'submit', class: 'primary' }, 'Run dry');
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const result = h('div', { id: 'dbg-result' });
  const field = (label, control, hint) =>
    h('label', { class: 'field' }, h('span', null, label), control, hint ? h('small', { class: 'muted' }, hint) : null);
  const form = h('form', { id: 'dbg-form', class: 'card debugger-form' },
    field('Route', select),
    field('Event id', eventInput, 'a stored event; when given, the body below is not used'),
    field('or a request body', body),
    field('with headers', headers, 'one "name: value" per line'),
    h('div', { class: 'buttons' }, run,
      h('span', { class: 'muted' }, 'Dry run: the plugins run, nothing is sent or stored.')));
  on(form, 'submit', (e) => {
    e.preventDefault();
    ctx.task('debugger', errorLine, async () => {
      const request = dryRunRequest(eventInput.value.trim(), body.value, headers.value);
      const name = select.value;
      // Keep the hash in step so the run can be linked, without re-rendering the view.
      history.replaceState(null, '', '#/debugger' + qs({ route: name, event: request.event_id }));
      run.disabled = true;
      try {
        const res = await api(`/api/routes/${enc(name)}/dry-run`, 'POST', request);
        if (ctx.alive()) result.replaceChildren(dryRunResult(res));
      } finally {
        run.disabled = false;
      }
    });
  });
  ctx.show(h('div', null, viewHead('Route debugger'), form, errorLine, result), 'debugger');
}

function dryRunRequest(eventId, body, headerText) {
  if (eventId) return { event_id: eventId };
  if (!body.trim()) throw new Error('Give an event id or paste a request body.');
  const headers = {};
  for (const [i, line] of headerText.split('\n').entries()) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`Header line ${i + 1} is not "name: value".`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { body, headers };
}

function dryRunResult(res) {
  const stages = res.stages || [];
  const messages = res.messages || [];
  return h('div', { class: 'dry' },
    h('p', { class: 'banner' }, `Dry run of route ${res.route} (source ${res.source}): nothing was sent or stored.`),
    h('h2', null, 'Stages'),
    stages.length ? h('div', { class: 'stages' }, stages.map(stageCard))
      : h('p', { class: 'muted' }, 'No plugin ran.'),
    h('p', { class: `outcome o-${cssWord(res.outcome)}` },
      h('span', { class: 'muted' }, 'outcome '), h('strong', null, res.outcome ?? '—'),
      res.reason ? ` · ${res.reason}` : ''),
    h('h2', null, `Messages subscribers would get (${messages.length})`),
    messages.length ? messages.map(dryMessage) : h('p', { class: 'muted' }, 'None.'));
}

function stageCard(stage, i) {
  const version = stage.version === null || stage.version === undefined ? 'no version' : `v${stage.version}`;
  return h('div', { class: `stage card${stage.error ? ' failed' : ''}`, 'data-plugin': stage.plugin ?? '' },
    h('div', { class: 'stage-head' }, h('span', { class: 'muted' }, `${i + 1}.`), ' ',
      h('strong', null, stage.plugin ?? 'unknown'), ' ', h('span', { class: 'badge' }, stage.kind ?? '—')),
    h('div', { class: 'small muted' }, version, ' · ', shaEl(stage.sha256), ' · ', fmtMs(stage.duration_ms)),
    h('h4', null, stage.kind === 'filter' ? 'verdict' : 'output'),
    h('pre', { class: 'stage-output body' }, pretty(stage.output)),
    stage.error ? [h('h4', null, 'error'), errorText(stage.error)] : null,
    stage.stderr ? [h('h4', null, 'stderr'), h('pre', { class: 'stderr' }, stage.stderr)] : null);
}

function dryMessage(m) {
  return h('section', { class: 'dbg-message card', 'data-subscriber': m.subscriber ?? '' },
    h('header', { class: 'message-head' }, h('h3', null, '→ ', m.subscriber ?? '—'), badge(m.status)),
    facts([['type', m.type], ['key', m.key]]),
    errorText(m.error),
    h('details', { open: true }, h('summary', null, 'headers'), headersTable(m.headers)),
    h('pre', { class: 'dbg-body body' }, pretty(m.body)));
}

// ---------------------------------------------------------------------------------------------
// Config: wiring, nodes, reloads.
// ---------------------------------------------------------------------------------------------

async function configView(ctx) {
  const [routes, nodes, reloads] = await Promise.all([
    api('/api/routes'),
    optional(api('/api/nodes'), null),
    api('/api/reloads'),
  ]);
  const routesHolder = h('div', null, routesTable(routes.routes || []));
  const reloadsHolder = h('div', null, reloadsTable(reloads.reloads || []));
  const answer = h('div', { class: 'reload-answer', role: 'status' });
  const errorLine = h('p', { class: 'error', role: 'alert' });
  const button = h('button', { id: 'reload', type: 'button', class: 'primary' }, 'Reload');
  on(button, 'click', () => ctx.task('config', errorLine, async () => {
    button.disabled = true;
    try {
      const res = await api('/api/reload', 'POST');
      answer.replaceChildren(reloadAnswer(res));
      const [fresh, freshRoutes] = await Promise.all([api('/api/reloads'), api('/api/routes')]);
      if (!ctx.alive()) return;
      reloadsHolder.replaceChildren(reloadsTable(fresh.reloads || []));
      routesHolder.replaceChildren(routesTable(freshRoutes.routes || []));
    } finally {
      button.disabled = false;
    }
  }));
  ctx.show(h('div', null,
    viewHead('Config'),
    h('h2', null, 'Routes'), routesHolder,
    h('h2', null, 'Nodes'), nodes ? nodesTable(nodes.nodes || []) : h('p', { class: 'muted' }, 'Node list unavailable.'),
    h('h2', null, 'Reload'),
    h('div', { class: 'actions' }, button, h('span', { class: 'muted' }, 'Reads routes.toml and the plugins again.')),
    errorLine, answer,
    h('h2', null, 'Reload history'), reloadsHolder), 'config');
}

const listCell = (items) => (items?.length ? items.join(', ') : h('span', { class: 'muted' }, 'none'));

function routesTable(routes) {
  return table({ id: 'routes' }, ['name', 'source', 'filters', 'transforms', 'subscribers', 'held by'],
    routes.map((r) => h('tr', { 'data-route': r.name },
      h('td', null, h('strong', null, r.name)), h('td', null, r.source),
      h('td', null, listCell(r.filters)), h('td', null, listCell(r.transforms)),
      h('td', null, listCell(r.subscribers)),
      h('td', { class: r.held_by?.length ? 'warn' : null }, listCell(r.held_by)))),
    'No routes are configured.');
}

function nodesTable(nodes) {
  const now = Date.now();
  return table({ id: 'nodes' }, ['name', 'id', 'address', 'started', 'heartbeat', 'state', 'routes', 'plugins'],
    nodes.map((n) => h('tr', null,
      h('td', null, h('strong', null, n.name ?? '—')), h('td', { class: 'mono' }, n.id),
      h('td', { class: 'mono' }, n.address ?? '—'), h('td', { class: 'nowrap' }, timeEl(n.started_at)),
      h('td', { class: 'nowrap' }, n.heartbeat_at ? [ageSince(n.heartbeat_at, now), ' ago'] : '—'),
      h('td', null, badge(n.state)), h('td', null, shaEl(n.routes_sha256)),
      h('td', { class: 'small' }, Object.entries(n.plugins || {}).map(([name, sha]) =>
        h('div', { title: sha }, `${name} @ ${sha12(sha)}`))))),
    'No nodes.');
}

function reloadsTable(reloads) {
  return table({ id: 'reloads' }, ['when', 'trigger', 'reloaded', 'changes', 'errors'],
    reloads.map((r) => h('tr', { class: 'reload' },
      h('td', { class: 'nowrap' }, timeEl(r.at)),
      h('td', null, r.trigger),
      h('td', null, badge(r.reloaded ? 'yes' : 'no')),
      h('td', { class: 'wide' }, changeList(r.changes)),
      h('td', { class: 'diags' }, r.errors?.length ? diagnostics(r.errors) : '—'))),
    'No reloads yet.');
}

function changeList(changes) {
  return changes?.length ? h('ul', { class: 'changes' }, changes.map((c) => h('li', null, c)))
    : h('span', { class: 'muted' }, 'no changes');
}

/** Configuration errors, one <pre> each, unwrapped so "file:line:col" and carets line up. */
function diagnostics(errors) {
  return errors.map((e) => h('pre', { class: 'diag error-text' }, e));
}

function reloadAnswer(res) {
  return h('div', { class: `card ${res.reloaded ? 'success' : 'failure'}` },
    h('p', null, h('strong', null, res.reloaded ? 'Reloaded.' : 'Not reloaded.')),
    changeList(res.changes),
    res.errors?.length ? diagnostics(res.errors) : null);
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

on(document.getElementById('sign-out'), 'click', (e) => {
  e.preventDefault();
  sessionStorage.removeItem(TOKEN_KEY);
  updateSignOut();
  go('#/overview');
});
window.addEventListener('hashchange', route);
if (!location.hash || location.hash === '#' || location.hash === '#/') {
  history.replaceState(null, '', '#/overview');
}
updateSignOut();
route();

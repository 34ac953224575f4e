/**
 * castgate web console (served by http_server at `/`; no build step): live streams with codec, size, bitrate,
 * clients and input QoS, refreshed every 2 s from the HTTP API; click one to play it here (HTTP-FLV with mpegts.js,
 * HLS with hls.js, both vendored in ./vendor and loaded on first use); kick a client; casters and ingesters.
 *
 * Where the API is: model.js apiBaseOf (`?api=`, else this host on port 1985).
 * Safety: every API string reaches the page as text (Node.append / textContent / property), never as HTML.
 * Rows are kept by id and updated in place, so a refresh never replaces a row under the pointer.
 */
import {
  apiBaseOf, audioText, byteSize, DEFAULT_VHOST, duration, inputQos, mediaPath, num, pageUrlWithApi, streamKeyOf, videoText,
} from './model.js';

/** How often the lists are read, ms. */
const REFRESH_MS = 2000;
/** `/api/v1/clients?count=`: SRS pages 10 by default. */
const CLIENTS_PAGE = 10000;
/** An API request that takes longer is abandoned (the next refresh tries again). */
const API_TIMEOUT_MS = 5000;
/**
 * An HTTP-FLV response that ended (unpublish: a publisher or ingester restarting) is requested again once the API
 * shows the stream published, checked every RECONNECT_MS up to WAIT_CHECKS times before the player stops.
 */
const RECONNECT_MS = 1000;
const WAIT_CHECKS = 4;
/** Reconnections without any playback in between before the player gives up. */
const MAX_RECONNECTS = 10;

const api = apiBaseOf(location.href);
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** The body of the table with id `id`. */
const body = (id) => /** @type {HTMLTableElement} */ ($(id)).tBodies[0];
/** An error's message, whatever was thrown. @param {unknown} err */
const messageOf = (err) => (err instanceof Error ? err.message : String(err));
const video = /** @type {HTMLVideoElement} */ ($('video'));

/** What the last refresh read. */
const state = {
  /** @type {any[]} */ streams: [],
  /** @type {Map<string, string>} vhost id → name */ vhostNames: new Map(),
  /** @type {Map<string, boolean>} vhost id → HLS enabled */ vhostHls: new Map(),
  /** @type {string | undefined} the stream shown in the player panel */ selected: undefined,
};

/** The running player: { kind: 'flv' | 'hls', streamId, destroy() }. */
let player;
/** Players started (video.dataset.starts, for tests and the curious) and reconnections since playback last advanced. */
let starts = 0;
let reconnects = 0;

// ---------------------------------------------------------------- API

/**
 * One API call. @returns the parsed JSON when its `code` is 0.
 * @throws Error with the HTTP status or SRS code otherwise.
 */
async function call(path, method = 'GET') {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), API_TIMEOUT_MS);
  try {
    const r = await fetch(`${api}${path}`, { method, signal: ctrl.signal, cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    const json = await r.json();
    if (json.code !== 0) throw new Error(`${path}: code ${json.code}`);
    return json;
  } finally {
    clearTimeout(timer);
  }
}

/** DELETE /api/v1/clients/{id} (SRS kick-off), then refresh. */
async function kick(id) {
  try {
    await call(`/api/v1/clients/${encodeURIComponent(id)}`, 'DELETE');
    setStatus(`Kicked ${id}.`);
  } catch (err) {
    setStatus(`Kick ${id} failed: ${messageOf(err)}`, true);
  }
  void refresh();
}

// ---------------------------------------------------------------- DOM helpers

/** The item each row shows now (its buttons act on the current one, not on the one it was created for). */
const rowItems = new WeakMap();

/**
 * Make `tbody`'s rows match `items`, keyed by `keyOf`: new rows are created (`onCreate` adds listeners and button
 * cells once), gone rows removed, kept rows updated in place. `cellsOf` gives the text of the leading cells;
 * `onUpdate` runs on every row after each sync.
 */
function syncRows(tbody, items, keyOf, cellsOf, onCreate, onUpdate) {
  const old = new Map();
  for (const tr of Array.from(tbody.rows)) old.set(tr.dataset.key, tr);
  items.forEach((item, i) => {
    const key = keyOf(item);
    let tr = old.get(key);
    old.delete(key);
    const texts = cellsOf(item);
    if (tr === undefined) {
      tr = document.createElement('tr');
      tr.dataset.key = key;
      for (let c = 0; c < texts.length; c++) tr.append(document.createElement('td'));
      onCreate?.(tr, item);
    }
    rowItems.set(tr, item);
    texts.forEach((text, c) => {
      const td = tr.cells[c];
      if (td.textContent !== text) td.textContent = text;
    });
    onUpdate?.(tr, item);
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] ?? null);
  });
  for (const tr of old.values()) tr.remove();
}

/** A cell holding one button whose click calls `action` with the row's current item. */
function buttonCell(tr, label, title, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    action(rowItems.get(tr));
  });
  const td = document.createElement('td');
  td.append(b);
  tr.append(td);
  return b;
}

function setStatus(text, error = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

// ---------------------------------------------------------------- rendering

function renderStreams(casters, ingesters) {
  const tbody = body('streams');
  syncRows(tbody, state.streams, (s) => s.id, (s) => {
    const vhost = state.vhostNames.get(s.vhost) ?? DEFAULT_VHOST;
    const label = vhost === DEFAULT_VHOST ? `${s.app}/${s.name}` : `${s.app}/${s.name} @ ${vhost}`;
    return [
      label,
      s.publish?.active ? `live (${s.publish.cid})` : 'waiting for a publisher',
      videoText(s.video),
      audioText(s.audio),
      num(s.kbps?.recv_30s),
      num(s.kbps?.send_30s),
      num(s.clients),
      inputQos(streamKeyOf(s, vhost), casters, ingesters) || '—',
    ];
  }, (tr) => {
    tr.tabIndex = 0;
    tr.title = 'Play in this page';
    tr.addEventListener('click', () => select(tr.dataset.key));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') select(tr.dataset.key);
    });
  });
  for (const tr of Array.from(tbody.rows)) tr.classList.toggle('selected', tr.dataset.key === state.selected);
  $('streams-empty').hidden = state.streams.length > 0;
}

function renderClients(clients) {
  const mine = clients.filter((c) => c.stream === state.selected);
  syncRows(body('clients'), mine, (c) => c.id, (c) => [
    c.id,
    c.type,
    c.remote || c.ip || '—',
    duration(c.alive),
    num(c.kbps?.recv_30s),
    num(c.kbps?.send_30s),
    byteSize(c.publish ? c.recv_bytes : c.send_bytes),
  ], (tr, c) => buttonCell(tr, 'Kick', c.publish ? 'End this publish (DELETE /api/v1/clients/{id})' : 'Disconnect this player', (now) => kick(now.id)));
}

function renderCasters(casters) {
  const rows = [];
  for (const c of casters) {
    const sessions = c.sessions?.length ? c.sessions : [null];
    sessions.forEach((s, i) => rows.push({ c, s, key: `${c.index}:${s?.id ?? s?.remote ?? i}` }));
  }
  syncRows(body('casters'), rows, (r) => r.key, ({ c, s }) => [
    `${c.type} :${c.listen}`,
    s?.id ?? '—',
    s?.remote ?? '—',
    s?.stream ?? '—',
    s ? s.state : c.state,
    num(s?.packets),
    num(s?.lost),
    num(s?.reordered),
    num(s?.cc_errors),
    num(s?.resyncs),
    num(s?.kbps),
  ], (tr) => {
    buttonCell(tr, 'Kick', 'End this input session', ({ s }) => {
      if (s?.id) void kick(s.id);
    });
  }, (tr, { s }) => {
    tr.querySelector('button').hidden = !s?.id;
  });
  $('casters-empty').hidden = casters.length > 0;
}

function renderIngesters(ingesters) {
  const rows = ingesters.flatMap((ing) => (ing.engines ?? []).map((e) => ({ ing, e, key: `${ing.id}/${e.index}` })));
  syncRows(body('ingesters'), rows, (r) => r.key, ({ ing, e }) => [
    `${ing.id}${ing.engines.length > 1 ? ` #${e.index}` : ''}`,
    e.mode,
    e.stream ?? '—',
    e.state,
    num(e.pid),
    num(e.restarts),
    duration(e.uptime),
    num(e.fps),
    num(e.speed),
    num(e.kbps),
    e.error ?? '',
  ], (tr) => {
    buttonCell(tr, 'Restart', 'Kick its publisher: the ingester starts it again', ({ e }) => {
      if (e.client) void kick(e.client);
    });
  }, (tr, { e }) => {
    tr.querySelector('button').hidden = !e.client;
  });
  $('ingesters-empty').hidden = rows.length > 0;
}

// ---------------------------------------------------------------- refresh loop

let refreshing = false;

/** Read the API once and update every panel. Never throws (errors go to the status line). */
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const wantClients = state.selected !== undefined;
    const [streams, vhosts, casters, ingesters, clients, summaries] = await Promise.all([
      call('/api/v1/streams?count=1000'),
      call('/api/v1/vhosts'),
      call('/api/v1/casters').catch(() => ({ casters: [] })),
      call('/api/v1/ingesters').catch(() => ({ ingesters: [] })),
      wantClients ? call(`/api/v1/clients?count=${CLIENTS_PAGE}`) : Promise.resolve({ clients: [] }),
      call('/api/v1/summaries').catch(() => undefined),
    ]);
    state.streams = streams.streams ?? [];
    state.vhostNames = new Map((vhosts.vhosts ?? []).map((v) => [v.id, v.name]));
    state.vhostHls = new Map((vhosts.vhosts ?? []).map((v) => [v.id, v.hls?.enabled === true]));
    renderStreams(casters.casters ?? [], ingesters.ingesters ?? []);
    renderCasters(casters.casters ?? []);
    renderIngesters(ingesters.ingesters ?? []);
    if (wantClients) renderClients(clients.clients ?? []);
    // (an HTTP-FLV player finds out itself when its response ends: reconnectLater)
    if (player?.kind === 'hls' && !state.streams.some((s) => s.id === player.streamId)) {
      stopPlayer();
      $('player-info').textContent = 'The stream ended.';
    }
    const up = summaries?.data?.self;
    setStatus(`API ${api}${up ? ` · castgate ${up.version}, up ${duration(up.srs_uptime)}` : ''} · ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    setStatus(`Cannot read the HTTP API at ${api}: ${messageOf(err)}. Is http_api enabled there (with crossdomain on)? Set another address above.`, true);
  } finally {
    refreshing = false;
  }
}

// ---------------------------------------------------------------- player

/** Load a vendored UMD script once. */
const scripts = new Map();
function loadScript(file) {
  let p = scripts.get(file);
  if (p === undefined) {
    p = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = new URL(`vendor/${file}`, import.meta.url).href;
      s.onload = () => resolve(undefined);
      s.onerror = () => reject(new Error(`cannot load ${file}`));
      document.head.append(s);
    });
    scripts.set(file, p);
  }
  return p;
}

function stopPlayer() {
  player?.destroy();
  player = undefined;
  delete video.dataset.player;
  video.removeAttribute('src');
  video.load();
}

/** Show the player panel for `id` and play it: HTTP-FLV when a live mount serves it, else HLS when its vhost has HLS. */
async function select(id) {
  const s = state.streams.find((x) => x.id === id);
  if (s === undefined) return;
  state.selected = id;
  const vhost = state.vhostNames.get(s.vhost) ?? DEFAULT_VHOST;
  $('player-panel').hidden = false;
  $('player-title').textContent = vhost === DEFAULT_VHOST ? `${s.app}/${s.name}` : `${s.app}/${s.name} @ ${vhost}`;
  for (const tr of Array.from(body('streams').rows)) tr.classList.toggle('selected', tr.dataset.key === id);
  body('clients').replaceChildren();
  const flv = mediaPath(s, vhost, 'flv');
  const hls = mediaPath(s, vhost, 'm3u8');
  const hasHls = state.vhostHls.get(s.vhost) === true;
  /** @type {HTMLButtonElement} */ ($('play-hls')).disabled = !hasHls;
  void refresh();
  const flvServed = await fetch(flv, { method: 'HEAD', cache: 'no-store' }).then((r) => r.ok, () => false);
  /** @type {HTMLButtonElement} */ ($('play-flv')).disabled = !flvServed;
  if (state.selected !== id) return; // another click meanwhile
  if (flvServed) await play('flv', flv, id);
  else if (hasHls) await play('hls', hls, id);
  else {
    stopPlayer();
    $('player-info').textContent = 'Neither HTTP-FLV (http_remux) nor HLS is enabled for this stream\'s vhost.';
  }
}

/** Play `url` with mpegts.js (`flv`) or hls.js (`hls`), replacing the current player. */
async function play(kind, url, streamId) {
  stopPlayer();
  const info = $('player-info');
  info.textContent = `${kind === 'flv' ? 'HTTP-FLV (mpegts.js)' : 'HLS (hls.js)'}: ${url}`;
  try {
    await loadScript(kind === 'flv' ? 'mpegts.js' : 'hls.min.js');
  } catch (err) {
    info.textContent = messageOf(err);
    return;
  }
  if (state.selected !== streamId) return;
  const abs = new URL(url, location.href).href;
  if (kind === 'flv') {
    const mpegts = /** @type {any} */ (window).mpegts;
    if (!mpegts.getFeatureList().mseLivePlayback) {
      info.textContent = 'This browser cannot play live HTTP-FLV (no Media Source Extensions).';
      return;
    }
    mpegts.LoggingControl.enableVerbose = new URLSearchParams(location.search).has('debug');
    const p = mpegts.createPlayer({ type: 'flv', isLive: true, url: abs }, { enableStashBuffer: false, liveBufferLatencyChasing: true });
    const self = { kind, streamId, destroy: () => { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } };
    // only while this player is the current one (a replaced player's late events are ignored)
    p.on(mpegts.Events.ERROR, (type, detail) => {
      if (player === self) reconnectLater(kind, url, streamId, `HTTP-FLV error: ${type} ${detail}`);
    });
    p.on(mpegts.Events.LOADING_COMPLETE, () => {
      if (player === self) reconnectLater(kind, url, streamId, 'The HTTP-FLV stream was interrupted');
    });
    p.attachMediaElement(video);
    p.load();
    player = self;
  } else {
    const Hls = /** @type {any} */ (window).Hls;
    if (Hls.isSupported()) {
      const h = new Hls({ lowLatencyMode: true });
      const self = { kind, streamId, destroy: () => h.destroy() };
      h.on(Hls.Events.ERROR, (_e, d) => {
        if (d.fatal && player === self) info.textContent = `HLS error: ${d.details}`;
      });
      h.loadSource(abs);
      h.attachMedia(video);
      player = self;
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = abs; // Safari plays HLS natively
      player = { kind, streamId, destroy: () => {} };
    } else {
      info.textContent = 'This browser cannot play HLS.';
      return;
    }
  }
  video.dataset.player = kind;
  video.dataset.starts = String(++starts);
  video.play().catch(() => {}); // muted autoplay; a refusal leaves the controls to the user
}

/**
 * The HTTP-FLV response ended or failed: play again as soon as the API shows the stream published (an ingester or
 * an encoder restarting republishes within seconds); after WAIT_CHECKS checks without a publisher, show that it ended.
 */
function reconnectLater(kind, url, streamId, why, check = 1) {
  const mine = player;
  const info = $('player-info');
  if (reconnects >= MAX_RECONNECTS) {
    info.textContent = `${why}. Gave up after ${MAX_RECONNECTS} attempts.`;
    return;
  }
  info.textContent = `${why}; reconnecting…`;
  setTimeout(async () => {
    if (player !== mine || state.selected !== streamId) return; // replaced or closed meanwhile
    const active = await call(`/api/v1/streams/${encodeURIComponent(streamId)}`).then((r) => r.stream?.publish?.active === true, () => false);
    if (player !== mine || state.selected !== streamId) return;
    if (active) {
      reconnects++;
      void play(kind, url, streamId);
    } else if (check < WAIT_CHECKS) {
      reconnectLater(kind, url, streamId, why, check + 1);
    } else {
      stopPlayer();
      info.textContent = 'The stream ended.';
    }
  }, RECONNECT_MS);
}

video.addEventListener('timeupdate', () => {
  if (video.currentTime > 0) reconnects = 0;
});

function currentStream() {
  return state.streams.find((x) => x.id === state.selected);
}

$('play-flv').addEventListener('click', () => {
  const s = currentStream();
  if (s) void play('flv', mediaPath(s, state.vhostNames.get(s.vhost) ?? DEFAULT_VHOST, 'flv'), s.id);
});
$('play-hls').addEventListener('click', () => {
  const s = currentStream();
  if (s) void play('hls', mediaPath(s, state.vhostNames.get(s.vhost) ?? DEFAULT_VHOST, 'm3u8'), s.id);
});
$('player-close').addEventListener('click', () => {
  stopPlayer();
  state.selected = undefined;
  $('player-panel').hidden = true;
  for (const tr of Array.from(body('streams').rows)) tr.classList.remove('selected');
});

// ---------------------------------------------------------------- start

const apiInput = /** @type {HTMLInputElement} */ ($('api-base'));
apiInput.value = api;
$('api-form').addEventListener('submit', (e) => {
  e.preventDefault();
  location.href = pageUrlWithApi(location.href, apiInput.value);
});

void refresh();
setInterval(() => void refresh(), REFRESH_MS);

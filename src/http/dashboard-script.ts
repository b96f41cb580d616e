// The dashboard's script (served as /_utils/app.js): a hash router over databases, documents, Mango
// and view queries, replication and mesh peers, every action one call of the node's HTTP API.

export const DASHBOARD_JS = `'use strict';
const $ = (sel) => document.querySelector(sel);
const PAGE = 20;
let current = { db: null, skip: 0 };

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function showError(err) {
  const box = $('#error');
  box.textContent = err ? String(err.message || err) : '';
  box.hidden = !err;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ? data.error + ': ' + data.reason : 'HTTP ' + res.status);
  return data;
}

const dbPath = (db) => '/' + encodeURIComponent(db);
/** The dashboard's own address of a document (its editor). */
const docHash = (db, id) => '#/' + encodeURIComponent(db) + '/' + encodeURIComponent(id);
const docPath = (db, id) => dbPath(db) + '/' + (id.startsWith('_design/') ? '_design/' + encodeURIComponent(id.slice(8)) : encodeURIComponent(id));

async function loadSession() {
  const [welcome, session] = await Promise.all([api('GET', '/'), api('GET', '/_session')]);
  $('#version').textContent = welcome.vendor.name + ' ' + welcome.vendor.version;
  const name = session.userCtx.name;
  $('#who').textContent = name ? 'logged in as ' + name : '';
  // No login form where nobody needs one: an admin already, or a node without an admin (admin party).
  $('#login').hidden = Boolean(name) || session.userCtx.roles.includes('_admin');
  $('#logout').hidden = !name;
}

async function loadDbs() {
  const body = $('#dbs tbody');
  const names = await api('GET', '/_all_dbs');
  const infos = await Promise.all(names.map((n) => api('GET', dbPath(n)).catch(() => null)));
  body.replaceChildren(...names.map((n, i) => {
    const info = infos[i];
    const row = el('tr');
    const open = el('a', n, { href: '#/' + encodeURIComponent(n) });
    const cell = el('td'); cell.append(open); row.append(cell);
    row.append(el('td', info ? info.doc_count : '?'), el('td', info ? info.doc_del_count : '?'), el('td', info ? info.update_seq : '?'));
    const del = el('button', 'Delete');
    del.addEventListener('click', () => act(async () => {
      if (!confirm('Delete database ' + n + ' and all its documents?')) return;
      await api('DELETE', dbPath(n));
      await loadDbs();
    }));
    const last = el('td'); last.append(del); row.append(last);
    return row;
  }));
}

async function loadDb(db, skip) {
  current = { db, skip };
  const res = await api('GET', dbPath(db) + '/_all_docs?limit=' + PAGE + '&skip=' + skip);
  $('#db-name').textContent = db;
  $('#db tbody').replaceChildren(...res.rows.map((r) => {
    const row = el('tr');
    const cell = el('td');
    cell.append(el('a', r.id, { href: docHash(db, r.id) }));
    row.append(cell, el('td', r.value.rev));
    return row;
  }));
  $('#page').textContent = res.total_rows === 0 ? 'no documents' : (skip + 1) + '–' + (skip + res.rows.length) + ' of ' + res.total_rows;
  $('#prev').disabled = skip === 0;
  $('#next').disabled = skip + res.rows.length >= res.total_rows;
}

/** The views of the database's design documents, offered by name (design document / view). */
async function loadViews(db) {
  const res = await api('GET', dbPath(db) + '/_design_docs?include_docs=true');
  const views = res.rows.flatMap((r) => Object.keys((r.doc && r.doc.views) || {}).map((v) => [r.id.slice('_design/'.length), v]));
  // Each option carries its design document and view apart: either name may hold a slash.
  $('#view select').replaceChildren(...views.map((v) => el('option', v[0] + '/' + v[1], { value: JSON.stringify(v) })));
  $('#view').hidden = views.length === 0;
  $('#view-rows').hidden = true;
  $('#view-total').textContent = '';
}

async function queryView(db, choice, params) {
  const [ddoc, view] = JSON.parse(choice);
  const p = params.trim();
  const query = p === '' ? '' : '?' + (p.startsWith('?') ? p.slice(1) : p);
  const res = await api('GET', dbPath(db) + '/_design/' + encodeURIComponent(ddoc) + '/_view/' + encodeURIComponent(view) + query);
  $('#view-rows tbody').replaceChildren(...res.rows.map((r) => {
    const row = el('tr');
    const id = el('td');
    if (r.id !== undefined) id.append(el('a', r.id, { href: docHash(db, r.id) }));
    row.append(el('td', JSON.stringify(r.key)), el('td', JSON.stringify(r.value)), id);
    return row;
  }));
  $('#view-rows').hidden = false;
  $('#view-total').textContent = res.total_rows === undefined ? res.rows.length + ' rows' : res.rows.length + ' of ' + res.total_rows + ' rows';
}

async function loadDoc(db, id) {
  $('#doc-db').textContent = db;
  $('#doc-db').setAttribute('href', '#/' + encodeURIComponent(db));
  const doc = id === null ? {} : await api('GET', docPath(db, id));
  // The id shows once the document has loaded, with it.
  $('#doc-id').textContent = id === null ? '(new)' : id;
  $('#doc-json').value = JSON.stringify(doc, null, 2);
  $('#delete').disabled = id === null;
  current = { db, skip: current.skip, id };
}

async function loadTasks() {
  const tasks = await api('GET', '/_active_tasks').catch(() => []);
  $('#tasks ul').replaceChildren(...(tasks.length ? tasks.map((t) => el('li', t.type + ': ' + (t.source || '') + ' → ' + (t.target || '') + ' (' + (t.docs_written || 0) + ' written)')) : [el('li', 'none')]));
}

let events = null;
async function loadMesh() {
  let info;
  try {
    info = await api('GET', '/_mesh/peers');
  } catch (err) {
    $('#mesh-self').textContent = String(err.message).startsWith('unauthorized') ? 'log in as the admin to see peers' : 'the mesh is off on this node';
    $('#mesh ul').replaceChildren();
    return;
  }
  $('#mesh-self').textContent = 'peer ' + info.peer_id;
  const list = $('#mesh ul');
  list.replaceChildren(...info.peers.map((p) => el('li', (p.name ? p.name + ' ' : '') + p.id + (p.up ? ' (up)' : ' (down)'), { class: p.up ? 'up' : 'down', 'data-peer': p.id })));
  if (events === null) {
    events = new EventSource('/_mesh/_events', { withCredentials: true });
    events.addEventListener('peer:up', () => loadMesh());
    events.addEventListener('peer:down', () => loadMesh());
  }
}

async function act(fn) {
  showError(null);
  try { await fn(); } catch (err) { showError(err); }
}

async function route() {
  const parts = location.hash.replace(/^#\\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [db, ...rest] = parts;
  const id = rest.length ? rest.join('/') : undefined;
  $('#dbs').hidden = db !== undefined;
  $('#db').hidden = db === undefined || id !== undefined;
  $('#doc').hidden = id === undefined;
  if (db === undefined) await loadDbs();
  else if (id === undefined) await Promise.all([loadDb(db, 0), loadViews(db)]);
  else await loadDoc(db, id === '_new' ? null : id);
}

$('#login').addEventListener('submit', (e) => act(async () => {
  e.preventDefault();
  const form = new FormData(e.target);
  await api('POST', '/_session', { name: form.get('name'), password: form.get('password') });
  await Promise.all([loadSession(), route(), loadMesh()]);
}));
$('#logout').addEventListener('click', () => act(async () => {
  await api('DELETE', '/_session');
  await Promise.all([loadSession(), loadMesh()]);
}));
$('#create-db').addEventListener('submit', (e) => act(async () => {
  e.preventDefault();
  const name = new FormData(e.target).get('name');
  await api('PUT', dbPath(name));
  e.target.reset();
  await loadDbs();
}));
$('#new-doc').addEventListener('click', () => { location.hash = '#/' + encodeURIComponent(current.db) + '/_new'; });
$('#prev').addEventListener('click', () => act(() => loadDb(current.db, Math.max(0, current.skip - PAGE))));
$('#next').addEventListener('click', () => act(() => loadDb(current.db, current.skip + PAGE)));
$('#save').addEventListener('click', () => act(async () => {
  const doc = JSON.parse($('#doc-json').value);
  const res = doc._id === undefined ? await api('POST', dbPath(current.db), doc) : await api('PUT', docPath(current.db, doc._id), doc);
  const hash = docHash(current.db, res.id);
  // A new hash loads the saved document through the router; the same one is loaded here.
  if (location.hash !== hash) location.hash = hash;
  else await loadDoc(current.db, res.id);
}));
$('#find').addEventListener('submit', (e) => act(async () => {
  e.preventDefault();
  const query = JSON.parse(new FormData(e.target).get('selector'));
  const res = await api('POST', dbPath(current.db) + '/_find', query);
  $('#found').replaceChildren(...res.docs.map((d) => {
    const item = el('li');
    item.append(d._id === undefined ? el('span', JSON.stringify(d)) : el('a', d._id, { href: docHash(current.db, d._id) }));
    return item;
  }), ...(res.warning ? [el('li', 'warning: ' + res.warning)] : []));
}));
$('#view').addEventListener('submit', (e) => act(async () => {
  e.preventDefault();
  const form = new FormData(e.target);
  await queryView(current.db, form.get('view'), form.get('params'));
}));
$('#replicate').addEventListener('submit', (e) => act(async () => {
  e.preventDefault();
  const form = new FormData(e.target);
  const body = { source: form.get('source'), target: form.get('target'), continuous: form.get('continuous') === 'on', create_target: form.get('create_target') === 'on' };
  const res = await api('POST', '/_replicate', body);
  $('#replicated').textContent = body.continuous ? 'started: ' + (res._local_id || res.id || 'ok') : 'done: ' + ((res.history && res.history[0] && res.history[0].docs_written) || 0) + ' written';
  await loadTasks();
}));
$('#delete').addEventListener('click', () => act(async () => {
  const doc = JSON.parse($('#doc-json').value);
  await api('DELETE', docPath(current.db, doc._id) + '?rev=' + encodeURIComponent(doc._rev));
  location.hash = '#/' + encodeURIComponent(current.db);
}));
window.addEventListener('hashchange', () => act(route));
act(async () => {
  try {
    await Promise.all([loadSession(), route(), loadMesh()]);
  } finally {
    document.body.dataset.ready = 'yes';
  }
});
setInterval(() => { if (!document.hidden) loadTasks(); }, 5000);
loadTasks();
`;

// The dashboard's page, script and style, served as they are by routes-dashboard.ts (no build step,
// no framework): a client of the node's own HTTP API, with the logged-in user's session cookie.
// Everything a user typed or a document holds reaches the page through textContent, never as HTML.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Refuge</title>
<link rel="stylesheet" href="/_utils/app.css">
<header>
  <strong>Refuge</strong> <span id="version"></span>
  <span id="who"></span>
  <form id="login" hidden><input name="name" placeholder="user" autocomplete="username"><input name="password" type="password" placeholder="password" autocomplete="current-password"><button>Log in</button></form>
  <button id="logout" hidden>Log out</button>
</header>
<p id="error" role="alert" hidden></p>
<main>
  <section id="dbs">
    <h2>Databases</h2>
    <form id="create-db"><input name="name" placeholder="new database" required><button>Create</button></form>
    <table><thead><tr><th>name</th><th>documents</th><th>deleted</th><th>update seq</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section id="db" hidden>
    <h2><a href="#">Databases</a> / <span id="db-name"></span></h2>
    <button id="new-doc">New document</button>
    <table><thead><tr><th>id</th><th>rev</th></tr></thead><tbody></tbody></table>
    <nav><button id="prev">Previous</button> <span id="page"></span> <button id="next">Next</button></nav>
    <h3>Find (Mango)</h3>
    <form id="find"><textarea name="selector" rows="3" spellcheck="false">{"selector": {}}</textarea><button>Run</button></form>
    <ul id="found"></ul>
  </section>
  <section id="doc" hidden>
    <h2><a id="doc-db" href="#"></a> / <span id="doc-id"></span></h2>
    <textarea id="doc-json" spellcheck="false" rows="20"></textarea>
    <p><button id="save">Save</button> <button id="delete">Delete</button></p>
  </section>
  <section id="tasks"><h2>Active tasks</h2><ul></ul>
    <form id="replicate"><input name="source" placeholder="source (name or URL)" required> → <input name="target" placeholder="target (name or URL)" required>
      <label><input type="checkbox" name="continuous"> continuous</label> <label><input type="checkbox" name="create_target"> create target</label> <button>Replicate</button></form>
    <p id="replicated"></p>
  </section>
  <section id="mesh"><h2>Mesh</h2><p id="mesh-self"></p><ul></ul></section>
</main>
<script src="/_utils/app.js"></script>
</html>
`;

export const DASHBOARD_CSS = `[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: #2b4a3f; color: #fff; }
header form { display: flex; gap: .3em; margin-left: auto; }
#logout { margin-left: auto; }
main { padding: 0 1em; max-width: 70em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #ddd; }
textarea { width: 100%; font-family: ui-monospace, monospace; }
#error { background: #fdd; padding: .5em 1em; margin: 0; }
li.down { color: #888; }
`;

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
    cell.append(el('a', r.id, { href: '#/' + encodeURIComponent(db) + '/' + encodeURIComponent(r.id) }));
    row.append(cell, el('td', r.value.rev));
    return row;
  }));
  $('#page').textContent = res.total_rows === 0 ? 'no documents' : (skip + 1) + '–' + (skip + res.rows.length) + ' of ' + res.total_rows;
  $('#prev').disabled = skip === 0;
  $('#next').disabled = skip + res.rows.length >= res.total_rows;
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
  else if (id === undefined) await loadDb(db, 0);
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
  const hash = '#/' + encodeURIComponent(current.db) + '/' + encodeURIComponent(res.id);
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
    item.append(d._id === undefined ? el('span', JSON.stringify(d)) : el('a', d._id, { href: '#/' + encodeURIComponent(current.db) + '/' + encodeURIComponent(d._id) }));
    return item;
  }), ...(res.warning ? [el('li', 'warning: ' + res.warning)] : []));
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

// The dashboard's page and style (its script is dashboard-script.ts), served as they are by
// routes-dashboard.ts (no build step, no framework): a client of the node's own HTTP API, with the
// logged-in user's session cookie.
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
  <form id="login" method="post" action="/_session?next=/_utils/" hidden><input name="name" placeholder="user" autocomplete="username"><input name="password" type="password" placeholder="password" autocomplete="current-password"><button>Log in</button></form>
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
    <form id="view" hidden><select name="view" required></select> <input name="params" value="limit=20" size="40" spellcheck="false" aria-label="query parameters"> <button>Query view</button></form>
    <table id="view-rows" hidden><thead><tr><th>key</th><th>value</th><th>id</th></tr></thead><tbody></tbody></table>
    <p id="view-total"></p>
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

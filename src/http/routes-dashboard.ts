// `GET /_utils/`: the node's web dashboard (Fauxton's path): databases, documents, active tasks and
// mesh peers, through the node's own API. Static assets; what a user may see or change is decided by
// the API calls the page makes, under the same auth as any client.

import type { FastifyInstance } from 'fastify';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './dashboard-assets.ts';
import { DASHBOARD_JS } from './dashboard-script.ts';

/** Scripts and styles from this origin only, no inline code, no plugins, no framing by other sites. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; object-src 'none'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** Served without auth, as CouchDB serves Fauxton: the page asks for a login before it shows anything. */
export const DASHBOARD_PATHS = ['/_utils', '/_utils/', '/_utils/index.html', '/_utils/app.js', '/_utils/app.css'];

export function dashboardRoutes(app: FastifyInstance): void {
  const asset = (path: string, type: string, body: string) =>
    app.get(path, async (_req, reply) => reply.headers({ ...SECURITY_HEADERS, 'content-type': type }).send(body));
  // `/_utils` and `/_utils/` are one route (the server ignores a trailing slash): the page names its
  // assets by absolute path so either works.
  asset('/_utils/', 'text/html; charset=utf-8', DASHBOARD_HTML);
  asset('/_utils/index.html', 'text/html; charset=utf-8', DASHBOARD_HTML);
  asset('/_utils/app.js', 'text/javascript; charset=utf-8', DASHBOARD_JS);
  asset('/_utils/app.css', 'text/css; charset=utf-8', DASHBOARD_CSS);
}

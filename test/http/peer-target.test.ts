// Which grant a peer-signed request needs (src/http/peer-auth.ts): reads, writes, and what no grant covers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerTarget } from '../../src/http/index.ts';

test('peerTarget maps CouchDB routes to read, write or nothing', () => {
  const cases: Array<[string, string, unknown]> = [
    ['GET', '/', { kind: 'open' }],
    ['GET', '/_up', { kind: 'open' }],
    ['GET', '/_all_dbs', { kind: 'other' }],
    ['POST', '/_replicate', { kind: 'other' }],
    ['GET', '/_blobs/sha256-00', { kind: 'blobs' }],
    ['POST', '/_blobs/_stat', { kind: 'blobs' }],
    // What this node holds is no peer's business: no listing, no blob changes feed, no uploads.
    ['GET', '/_blobs', { kind: 'other' }],
    ['GET', '/_blobs/', { kind: 'other' }],
    ['GET', '/_blobs/_changes', { kind: 'other' }],
    ['HEAD', '/_blobs/sha256-00', { kind: 'blobs' }],
    ['GET', '/_blobs/sha256-00/more', { kind: 'other' }],
    ['PUT', '/_blobs/sha256-00', { kind: 'other' }],
    ['GET', '/db', { kind: 'db', db: 'db', access: 'read' }],
    ['PUT', '/db', { kind: 'other' }],
    ['DELETE', '/db', { kind: 'other' }],
    ['POST', '/db', { kind: 'db', db: 'db', access: 'write' }],
    ['GET', '/db/doc', { kind: 'db', db: 'db', access: 'read' }],
    ['HEAD', '/db/doc', { kind: 'db', db: 'db', access: 'read' }],
    ['PUT', '/db/doc', { kind: 'db', db: 'db', access: 'write' }],
    ['DELETE', '/db/doc', { kind: 'db', db: 'db', access: 'write' }],
    ['PUT', '/db/doc/att.txt', { kind: 'db', db: 'db', access: 'write' }],
    ['POST', '/db/_all_docs', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_local_docs', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_design_docs', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_all_docs/queries', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_local_docs/queries', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_design/d/_update/f', { kind: 'db', db: 'db', access: 'write' }],
    ['POST', '/db/_bulk_get', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_revs_diff', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_changes', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_find', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_bulk_docs', { kind: 'db', db: 'db', access: 'write' }],
    ['POST', '/db/_index', { kind: 'db', db: 'db', access: 'write' }],
    ['POST', '/db/_design/d/_view/v', { kind: 'db', db: 'db', access: 'read' }],
    ['POST', '/db/_design/d/_search/i', { kind: 'db', db: 'db', access: 'read' }],
    ['PUT', '/db/_design/d', { kind: 'db', db: 'db', access: 'write' }],
    ['PUT', '/db/_local/x', { kind: 'db', db: 'db', access: 'write' }],
    ['POST', '/db/_compact', { kind: 'other' }],
    ['GET', '/db/_security', { kind: 'db', db: 'db', access: 'read' }],
    ['PUT', '/db/_security', { kind: 'other' }],
    ['PUT', '/db/_revs_limit', { kind: 'other' }],
    // Purge erases history: never a grant's, not even a writer's.
    ['POST', '/db/_purge', { kind: 'other' }],
    ['PUT', '/db/_purged_infos_limit', { kind: 'other' }],
    ['POST', '/db/_sync_shards', { kind: 'other' }],
    ['GET', '/db/_shards', { kind: 'db', db: 'db', access: 'read' }],
    ['GET', '/db/_purged_infos_limit', { kind: 'db', db: 'db', access: 'read' }],
    ['GET', '/a%2Fb/doc', { kind: 'db', db: 'a/b', access: 'read' }],
    // Escaped as the router unescapes them: the same paths, the same answers.
    ['POST', '/db/%5Fcompact', { kind: 'other' }],
    ['PUT', '/db/_revs%5flimit', { kind: 'other' }],
    ['POST', '/db/%5Fview_cleanup', { kind: 'other' }],
    ['GET', '/_blobs/%5Fuploads', { kind: 'other' }],
    ['POST', '/db/_design/d/%5Fview/v', { kind: 'db', db: 'db', access: 'read' }],
    ['GET', '/_refs', { kind: 'other' }],
    ['GET', '/_refs/_key', { kind: 'open' }],
    ['GET', '/_refs/home/docs', { kind: 'db', db: 'ref:home/docs', access: 'read' }],
    ['PUT', '/_refs/home/docs', { kind: 'other' }],
    ['POST', '/_refs/home/docs/_update', { kind: 'other' }],
  ];
  for (const [method, path, want] of cases) assert.deepEqual(peerTarget(method, path), want, `${method} ${path}`);
});

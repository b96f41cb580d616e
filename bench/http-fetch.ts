// Plain CouchDB calls over fetch (undici keeps connections alive) for the http suite: create a
// database, POST _bulk_docs batches, read doc counts and ask a node to replicate, failing loudly on
// any per-doc error.

import type { BenchDoc } from './workload.ts';

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export async function createDb(dbUrl: string): Promise<void> {
  const { status, body } = await call(dbUrl, { method: 'PUT' });
  if (status !== 201 && status !== 202) throw new Error(`PUT ${dbUrl}: ${status} ${JSON.stringify(body)}`);
}

export async function deleteDb(dbUrl: string): Promise<void> {
  const { status, body } = await call(dbUrl, { method: 'DELETE' });
  if (status !== 200) throw new Error(`DELETE ${dbUrl}: ${status} ${JSON.stringify(body)}`);
}

/** One _bulk_docs POST; throws unless every document was written. */
export async function postBulkDocs(dbUrl: string, docs: readonly BenchDoc[]): Promise<void> {
  const { status, body } = await call(`${dbUrl}/_bulk_docs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ docs }),
  });
  expectBulkWritten(`${dbUrl}/_bulk_docs`, status, body, docs.length);
}

/** Throws unless a _bulk_docs answer says every one of `n` documents was written. */
export function expectBulkWritten(url: string, status: number, body: unknown, n: number): void {
  if (status !== 201 || !Array.isArray(body) || body.length !== n) {
    throw new Error(`POST ${url}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const bad = (body as Array<{ error?: unknown }>).find((r) => r.error !== undefined);
  if (bad) throw new Error(`POST ${url}: ${JSON.stringify(bad)}`);
}

/** Writes `docs` in sequential batches of `batch`. */
export async function fillDb(dbUrl: string, docs: readonly BenchDoc[], batch = 1000): Promise<void> {
  for (let i = 0; i < docs.length; i += batch) await postBulkDocs(dbUrl, docs.slice(i, i + batch));
}

export async function docCount(dbUrl: string): Promise<number> {
  const { status, body } = await call(dbUrl);
  const count = (body as { doc_count?: unknown } | undefined)?.doc_count;
  if (status !== 200 || typeof count !== 'number') throw new Error(`GET ${dbUrl}: ${status} ${JSON.stringify(body)}`);
  return count;
}

/** Throws unless the database holds exactly `want` documents. */
export async function expectDocCount(label: string, dbUrl: string, want: number): Promise<void> {
  const got = await docCount(dbUrl);
  if (got !== want) throw new Error(`${label}: expected ${want} docs in ${dbUrl}, found ${got}`);
}

/**
 * Asks the node at `nodeUrl` to pull `sourceDbUrl` into its local database `targetDb` with its own
 * replicator (one-shot `POST /_replicate`, created if missing); throws unless every doc was written.
 */
export async function nodePull(nodeUrl: string, sourceDbUrl: string, targetDb: string, want: number): Promise<void> {
  const { status, body } = await call(`${nodeUrl}/_replicate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: sourceDbUrl, target: targetDb, create_target: true }),
  });
  const r = body as { ok?: boolean; docs_written?: number; doc_write_failures?: number } | undefined;
  if (status !== 200 || r?.ok !== true || r.docs_written !== want || r.doc_write_failures !== 0) {
    throw new Error(`POST ${nodeUrl}/_replicate (${sourceDbUrl} -> ${targetDb}, ${want} docs): ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

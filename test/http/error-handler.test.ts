// The routes' error handler: a database closed under a request because it was deleted answers as
// a missing database (404), not a server error; closed for another reason it stays a 500; a header
// Node cannot write never fails the error answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../../src/errors/index.ts';
import { dbAwareErrorHandler } from '../../src/http/errors.ts';

/** `headers`: those the reply had set before the error, left as the handler leaves them. */
function answer(handler: ReturnType<typeof dbAwareErrorHandler>, err: unknown, db: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const req = { params: db === undefined ? {} : { db }, headers: {}, log: { error: () => undefined } } as unknown as FastifyRequest;
  return new Promise((resolve) => {
    let status = 0;
    const reply = {
      code: (s: number) => ((status = s), reply),
      type: () => reply,
      header: () => reply,
      getHeaders: () => ({ ...headers }),
      removeHeader: (name: string) => delete headers[name],
      send: (body: string) => resolve({ status, body: JSON.parse(body) }),
    } as unknown as FastifyReply;
    void handler(err, req, reply);
  });
}

test('a request whose database was deleted under it (closed) answers 404; other closed databases stay 500', async () => {
  const handler = dbAwareErrorHandler(async (name) => name === 'here');
  const closed = new RefugeError('closed', 'database gone is closed');
  assert.deepEqual(await answer(handler, closed, 'gone'), { status: 404, body: { error: 'not_found', reason: 'Database does not exist.' } });
  assert.equal((await answer(handler, closed, 'here')).status, 500);
  assert.equal((await answer(handler, closed, undefined)).status, 500);
  assert.equal((await answer(handler, new RefugeError('conflict', 'x'), 'gone')).status, 409);
});

test('an error answer drops a header Node would refuse to write (it failed the answer again, and Fastify sent its own body)', async () => {
  const handler = dbAwareErrorHandler(async () => true);
  const invalid = Object.assign(new TypeError('Invalid character in header content ["location"]'), { code: 'ERR_INVALID_CHAR' });
  const headers = { location: 'http://h/\r\nx', 'x-fine': 'caf\u00e9', etag: '"\u0100"' };
  const res = await answer(handler, invalid, undefined, headers);
  assert.deepEqual(headers, { 'x-fine': 'caf\u00e9' });
  assert.deepEqual(res.body, { error: 'internal', reason: 'Internal server error' });
});

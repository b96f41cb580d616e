// The routes' error handler: a database closed under a request because it was deleted answers as
// a missing database (404), not a server error; closed for another reason it stays a 500.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../../src/errors/index.ts';
import { dbAwareErrorHandler } from '../../src/http/errors.ts';

function answer(handler: ReturnType<typeof dbAwareErrorHandler>, err: unknown, db: string | undefined): Promise<{ status: number; body: any }> {
  const req = { params: db === undefined ? {} : { db }, headers: {}, log: { error: () => undefined } } as unknown as FastifyRequest;
  return new Promise((resolve) => {
    let status = 0;
    const reply = {
      code: (s: number) => ((status = s), reply),
      type: () => reply,
      header: () => reply,
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

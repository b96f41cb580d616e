// The server-sent events parser: events split anywhere across chunks, CRLF line ends, comments,
// multi-line data, event names and ids, and events without data skipped as EventSource skips them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readEventStream, type ServerEvent } from '../../src/platform/event-stream.ts';

async function parse(chunks: string[]): Promise<ServerEvent[]> {
  const encoder = new TextEncoder();
  async function* body() {
    for (const c of chunks) yield encoder.encode(c);
  }
  const out: ServerEvent[] = [];
  for await (const e of readEventStream(body())) out.push(e);
  return out;
}

const stream = ': heartbeat\n\ndata: {"a":1}\n\nevent: peer\nid: 7\ndata: line one\ndata:line two\n\nevent: empty\n\ndata\n\n';
const expected: ServerEvent[] = [
  { event: 'message', data: '{"a":1}' },
  { event: 'peer', data: 'line one\nline two', id: '7' },
  { event: 'message', data: '' },
];

test('events are parsed as EventSource does', async () => {
  assert.deepEqual(await parse([stream]), expected);
});

test('the same events come out however the bytes are split, with LF or CRLF line ends', async () => {
  for (const text of [stream, stream.replace(/\n/g, '\r\n')]) {
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assert.deepEqual(await parse(chunks), expected, `chunks of ${size}`);
    }
  }
});

test('an unfinished last event is not yielded', async () => {
  assert.deepEqual(await parse(['data: done\n\ndata: cut']), [{ event: 'message', data: 'done' }]);
});

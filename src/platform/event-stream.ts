// Server-sent events read from a byte stream (fetch's body, portable): the one parser behind every
// client that follows an `eventsource` feed (the CLI's node events, the HTTP blob store's changes).

export interface ServerEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** The `data:` lines joined by newlines. */
  data: string;
  /** The `id:` field, when the event has one. */
  id?: string;
}

/**
 * Yields each event with data as it completes (blank-line terminated); comments (`:` lines, the
 * heartbeats) and events without data are skipped, as EventSource does.
 */
export async function* readEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerEvent> {
  const decoder = new TextDecoder();
  let buffered = '';
  // A CR that ends a chunk may be the first half of a CRLF: held until the next chunk tells.
  let heldCr = false;
  for await (const bytes of body) {
    let text = decoder.decode(bytes, { stream: true });
    if (text === '') continue;
    if (heldCr) text = '\n' + (text.startsWith('\n') ? text.slice(1) : text);
    heldCr = text.endsWith('\r');
    if (heldCr) text = text.slice(0, -1);
    buffered += text.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed) yield parsed;
    }
  }
}

function parseBlock(block: string): ServerEvent | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return undefined;
  return id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id };
}

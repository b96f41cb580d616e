// The order a JSON text gives an object's members, which JavaScript does not keep for names that
// are array indexes (it lists "7" before "a" whatever the text says). Only what multipart part
// matching needs: the names of the top-level object's `_attachments` members.

import { JsonCursor } from './json-cursor.ts';

/** The `_attachments` member names of the top-level object of `text`, in text order; `text` is JSON that parsed. */
export function attachmentNamesInOrder(text: string): string[] {
  const cursor = new JsonCursor(text);
  let order: string[] = [];
  cursor.members((name) => {
    if (name !== '_attachments' || !cursor.atObject()) return void cursor.value();
    // A repeated name keeps its first place, as a JavaScript object keeps it.
    const names = new Set<string>();
    cursor.members((n) => {
      names.add(n);
      cursor.value();
    });
    // The last `_attachments` is the one JSON.parse keeps.
    order = [...names];
  });
  return order;
}

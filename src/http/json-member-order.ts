// The order a JSON text gives an object's members, which JavaScript does not keep for names that
// are array indexes (it lists "7" before "a" whatever the text says). Only what multipart part
// matching needs: the names of the top-level object's `_attachments` members.

/** The `_attachments` member names of the top-level object of `text`, in text order; `text` is JSON that parsed. */
export function attachmentNamesInOrder(text: string): string[] {
  let i = 0;
  const space = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipValue = (): void => {
    space();
    if (text[i] === '"') return void string();
    if (text[i] !== '{' && text[i] !== '[') {
      while (i < text.length && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i++;
      return;
    }
    let depth = 0;
    do {
      const c = text[i];
      if (c === '"') {
        string();
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      i++;
    } while (depth > 0);
  };
  /** Calls `each` at every member of the object at `i`, positioned at its value, which `each` consumes. */
  const members = (each: (name: string) => void): void => {
    space();
    i++;
    for (;;) {
      space();
      if (text[i] === '}') {
        i++;
        return;
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      const name = string();
      space();
      i++;
      each(name);
    }
  };
  let order: string[] = [];
  members((name) => {
    space();
    if (name !== '_attachments' || text[i] !== '{') return skipValue();
    // A repeated name keeps its first place, as a JavaScript object keeps it.
    const names = new Set<string>();
    members((n) => {
      names.add(n);
      skipValue();
    });
    // The last `_attachments` is the one JSON.parse keeps.
    order = [...names];
  });
  return order;
}

// A cursor over JSON text that already parsed, for what JSON.parse does not keep: the order of an
// object's members whose names are array indexes, how a number was written (2.0 is no integer to
// CouchDB). Only reads and passes over: the text is known to be valid.

export class JsonCursor {
  private i = 0;

  constructor(private readonly text: string) {}

  /** Calls `each` at every member of the object at the cursor, positioned at its value, which `each` must consume. */
  members(each: (name: string) => void): void {
    const text = this.text;
    this.space();
    this.i++; // {
    for (;;) {
      this.space();
      if (this.i >= text.length) return;
      if (text[this.i] === '}') {
        this.i++;
        return;
      }
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      const name = this.string();
      this.space();
      this.i++; // :
      this.space();
      each(name);
    }
  }

  /** Whether the value at the cursor is an object. */
  atObject(): boolean {
    this.space();
    return this.text[this.i] === '{';
  }

  /** Passes over the value at the cursor; answers its text when it is a number, true, false or null. */
  value(): string | undefined {
    const text = this.text;
    this.space();
    if (text[this.i] === '"') return void this.string();
    if (text[this.i] !== '{' && text[this.i] !== '[') {
      const start = this.i;
      while (this.i < text.length && !',}] \t\n\r'.includes(text[this.i]!)) this.i++;
      return text.slice(start, this.i);
    }
    let depth = 0;
    do {
      const c = text[this.i];
      if (c === '"') {
        this.string();
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      this.i++;
    } while (depth > 0);
    return undefined;
  }

  private space(): void {
    const text = this.text;
    while (text[this.i] === ' ' || text[this.i] === '\t' || text[this.i] === '\n' || text[this.i] === '\r') this.i++;
  }

  private string(): string {
    const text = this.text;
    const start = this.i++;
    while (text[this.i] !== '"') this.i += text[this.i] === '\\' ? 2 : 1;
    this.i++;
    return JSON.parse(text.slice(start, this.i)) as string;
  }
}

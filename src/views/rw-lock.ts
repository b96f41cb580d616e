// A fair readers-writer lock: queries read a view group together, an update (apply) runs alone, so
// a query never sees rows and in-memory counts from two different states. Waiters are served in
// arrival order, so a stream of queries cannot starve updates.

interface Waiter {
  write: boolean;
  grant: () => void;
}

export class RwLock {
  private readers = 0;
  private writing = false;
  private readonly queue: Waiter[] = [];

  async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.readers--;
      this.drain();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.writing = false;
      this.drain();
    }
  }

  private acquire(write: boolean): Promise<void> {
    if (this.queue.length === 0 && !this.writing && (!write || this.readers === 0)) {
      this.take(write);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ write, grant: resolve }));
  }

  private take(write: boolean): void {
    if (write) this.writing = true;
    else this.readers++;
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.writing) {
      const head = this.queue[0]!;
      if (head.write && this.readers > 0) return;
      this.queue.shift();
      this.take(head.write);
      head.grant();
    }
  }
}

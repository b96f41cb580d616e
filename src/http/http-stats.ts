// Request counters for `_node/{node}/_stats` and `_prometheus`: requests by method and status, and
// request time, kept as CouchDB names them (`couchdb.httpd.requests`, `httpd_request_methods`, ...).

export interface StatsGauges {
  openDatabases: number;
}

interface Timing {
  n: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const counter = (value: number, desc: string) => ({ value, type: 'counter', desc });
const gauge = (value: number, desc: string) => ({ value, type: 'gauge', desc });

export class HttpStats {
  private requests = 0;
  private readonly methods = new Map<string, number>();
  private readonly statuses = new Map<number, number>();
  private readonly time: Timing = { n: 0, sumMs: 0, minMs: Infinity, maxMs: 0 };

  record(method: string, status: number, ms: number): void {
    this.requests++;
    this.methods.set(method, (this.methods.get(method) ?? 0) + 1);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const t = this.time;
    t.n++;
    t.sumMs += ms;
    if (ms < t.minMs) t.minMs = ms;
    if (ms > t.maxMs) t.maxMs = ms;
  }

  /** CouchDB's `_stats` tree (the parts Refuge keeps). */
  couch(gauges: StatsGauges): Record<string, unknown> {
    const t = this.time;
    const methods: Record<string, unknown> = {};
    for (const [m, n] of [...this.methods].sort()) methods[m] = counter(n, `number of HTTP ${m} requests`);
    const statuses: Record<string, unknown> = {};
    for (const [s, n] of [...this.statuses].sort((a, b) => a[0] - b[0])) statuses[String(s)] = counter(n, `number of HTTP ${s} responses`);
    return {
      couchdb: {
        httpd: { requests: counter(this.requests, 'number of HTTP requests') },
        httpd_request_methods: methods,
        httpd_status_codes: statuses,
        open_databases: gauge(gauges.openDatabases, 'number of open databases'),
        request_time: {
          value: {
            n: t.n,
            min: round(t.n ? t.minMs : 0),
            max: round(t.maxMs),
            arithmetic_mean: round(t.n ? t.sumMs / t.n : 0),
          },
          type: 'histogram',
          desc: 'length of a request inside Refuge, in milliseconds',
        },
      },
    };
  }

  /** The same in Prometheus' text format (as CouchDB's `_prometheus`), with the process' own. */
  prometheus(gauges: StatsGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[labels: string, value: number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric('couchdb_httpd_requests_total', 'counter', 'number of HTTP requests', [['', this.requests]]);
    metric('couchdb_httpd_request_methods', 'counter', 'number of HTTP requests by method',
      [...this.methods].sort().map(([m, n]) => [`{method="${m}"}`, n]));
    metric('couchdb_httpd_status_codes', 'counter', 'number of HTTP responses by status code',
      [...this.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => [`{code="${s}"}`, n]));
    metric('couchdb_open_databases_total', 'gauge', 'number of open databases', [['', gauges.openDatabases]]);
    // A summary without quantiles: its samples are the name with _sum and _count appended.
    metric('couchdb_request_time_seconds', 'summary', 'length of a request inside Refuge', [
      ['_sum', this.time.sumMs / 1000],
      ['_count', this.time.n],
    ]);
    const mem = process.memoryUsage();
    metric('refuge_process_resident_memory_bytes', 'gauge', 'resident set size of the node process', [['', mem.rss]]);
    metric('refuge_process_heap_used_bytes', 'gauge', 'JavaScript heap in use', [['', mem.heapUsed]]);
    metric('refuge_process_uptime_seconds', 'gauge', 'seconds since the node process started', [['', Math.round(process.uptime())]]);
    return lines.join('\n') + '\n';
  }
}

// The replicator's default HTTP transport where Node's is not available: the global fetch.
import { fetchTransport } from './http-transport.ts';

export const defaultTransport = fetchTransport();

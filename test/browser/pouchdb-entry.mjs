// The page side of the PouchDB browser test: PouchDB's browser build (IndexedDB adapter), as a web
// app bundles it, put on `window.PouchDB`, with the fetch a cookie-session app gives its remote.
import PouchDB from 'pouchdb-browser';

globalThis.PouchDB = PouchDB;
globalThis.fetchWithCookies = (url, opts) => PouchDB.fetch(url, { ...opts, credentials: 'include' });

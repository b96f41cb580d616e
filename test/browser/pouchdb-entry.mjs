// The page side of the PouchDB browser test: PouchDB's browser build (IndexedDB adapter), as a web
// app bundles it, put on `window.PouchDB`.
import PouchDB from 'pouchdb-browser';

globalThis.PouchDB = PouchDB;

// The source of the fs store's writer thread (see fs-writer.ts), kept as a string of plain JavaScript
// so the thread starts without a TypeScript loader. Its install mirrors FsBlobStore's exactly.

export const WRITER_SOURCE = String.raw`
'use strict';
// getBuiltinModule works whether the code is run as a script or as a module.
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const { createHash } = process.getBuiltinModule('node:crypto');

// Shard folders seen to exist: nothing removes one, so each is made once per thread.
const shards = new Set();
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

function ensureShard(dir) {
  if (shards.has(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  shards.add(dir);
}

function sizeOf(file) {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  }
}

// The file's mtime is the blob's age for gc: a re-store refreshes it (failures only leave it older).
function touch(file) {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {}
}

function finalPath(blobsDir, hex) {
  return path.join(blobsDir, hex.slice(0, 2), hex.slice(2, 4), 'sha256-' + hex);
}

// Hashes the bytes; unless they are not what the caller claimed, or a probe finds the blob stored,
// writes them to the temp file and installs that under their id.
// The store may have hashed the bytes itself already (to spare this thread when it falls behind).
function put(m) {
  const hex = m.hex !== undefined ? m.hex : createHash('sha256').update(m.bytes).digest('hex');
  if (m.expected !== undefined && m.expected !== hex) return { hex };
  const final = finalPath(m.blobsDir, hex);
  if (m.probe && sizeOf(final) !== null) {
    touch(final);
    return { hex, created: false };
  }
  // Read-only from birth: blobs are immutable (our own descriptor keeps write access).
  const fd = fs.openSync(m.tmp, 'wx', 0o444);
  try {
    for (let at = 0; at < m.bytes.length; ) at += fs.writeSync(fd, m.bytes, at, m.bytes.length - at);
  } catch (err) {
    fs.closeSync(fd);
    drop(m.tmp);
    throw err;
  }
  fs.closeSync(fd);
  return { hex, created: install(m.tmp, final, m.bytes.length) };
}

// link() never replaces: of two writers of one blob (even in two processes) exactly one creates it.
function install(tmp, final, size) {
  const shard = path.dirname(final);
  try {
    ensureShard(shard);
    try {
      fs.linkSync(tmp, final);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      // The shard was removed behind our back since we saw it: make it again, once.
      shards.delete(shard);
      ensureShard(shard);
      fs.linkSync(tmp, final);
    }
    return true;
  } catch (err) {
    if (err.code === 'EEXIST') {
      // A copy of the wrong size is damaged beyond doubt: replace it, since we hold verified bytes.
      if (sizeOf(final) !== size) fs.renameSync(tmp, final);
      else touch(final);
      return false;
    }
    if (NO_HARD_LINKS.has(err.code)) {
      // A filesystem without hard links: rename is still atomic (it may replace an identical copy).
      const created = sizeOf(final) === null;
      fs.renameSync(tmp, final);
      return created;
    }
    throw err;
  } finally {
    drop(tmp);
  }
}

function drop(tmp) {
  try {
    fs.unlinkSync(tmp);
  } catch {}
}

// Deletes go through here too, so a delete and a put of one blob happen (and are reported) in order.
function remove(m) {
  const size = sizeOf(m.file);
  if (size === null) return { size: null };
  try {
    fs.unlinkSync(m.file);
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return { size: null };
    throw err;
  }
  return { size };
}

const ops = { put, remove };
parentPort.on('message', (m) => {
  let reply;
  try {
    reply = ops[m.op](m);
  } catch (err) {
    reply = { error: { code: err && err.code, message: String(err && err.message || err) } };
  }
  reply.seq = m.seq;
  parentPort.postMessage(reply);
});
`;

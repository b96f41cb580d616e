// Browser-test helpers: a bundle for browsers, a loopback server for the page (an origin other than
// the node's), and Debian's Chromium driven headless by playwright-core.

import http from 'node:http';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.REFUGE_CHROMIUM ?? '/usr/bin/chromium';
/** A reason to skip when Chromium is missing (scripts/ensure-system-packages.sh installs it). */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

/** One ES module for browsers from `entry` and everything it imports. */
export async function bundleForBrowsers(entry: string): Promise<string> {
  const out = await build({ entryPoints: [entry], bundle: true, write: false, platform: 'browser', format: 'esm', conditions: ['browser'], logLevel: 'silent' });
  return out.outputFiles[0]!.text;
}

/** Serves a page that loads `bundle` as /app.js, on a loopback port of its own. */
export async function pageServer(bundle: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const page = '<!doctype html><meta charset="utf-8"><title>refuge</title><script type="module" src="/app.js"></script>';
  const server = http.createServer((req, res) => {
    const js = req.url === '/app.js';
    res.writeHead(js || req.url === '/' ? 200 : 404, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? bundle : req.url === '/' ? page : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `entry` bundled for browsers, checked free of Node built-ins, and served until the test ends. */
export async function servePage(t: TestContext, entry: string): Promise<{ origin: string }> {
  const bundle = await bundleForBrowsers(entry);
  assert.doesNotMatch(bundle, /from ["']node:/, 'no Node built-in in the browser build');
  const pages = await pageServer(bundle);
  t.after(() => pages.close());
  return pages;
}

/**
 * Chromium on the page at `origin`, once its module has set `global`; closed after the test. The
 * page's uncaught errors collect in `errors`.
 */
export async function openAppPage(t: TestContext, origin: string, global: string): Promise<{ page: Page; errors: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${origin}/`);
  await page.waitForFunction((name) => name in globalThis, global);
  return { page, errors };
}

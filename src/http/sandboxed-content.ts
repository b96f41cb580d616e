// Headers for content the node serves as given by its writers (attachments, update functions'
// answers): the dashboard shares the node's origin, so an HTML or SVG attachment (anyone may put
// one on their own user document) would otherwise run script as whoever opens it, the admin too.
// A sandboxed document renders, with no script and an origin of its own. CouchDB serves such
// content active (couchapps); Refuge serves no couchapps (`_show`, `_list` are 501).

export const SANDBOXED_CONTENT: Readonly<Record<string, string>> = {
  'Content-Security-Policy': 'sandbox',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * The headers for an attachment of this content type, its Content-Type among them. A PDF is the
 * one type left out of the sandbox: Chromium refuses to open its PDF viewer in a sandboxed
 * document ("blocked by Chrome"), and the viewer runs a PDF's script apart from the origin. Only
 * a value that is one media type, `application/pdf` (any parameters), counts, and it is sent as
 * exactly `application/pdf`: a browser reads `application/pdf;x=1, text/html` as HTML (the Fetch
 * standard takes the last type of a list). With `nosniff`, it shows as a PDF or not at all.
 */
export function attachmentHeaders(contentType: string): Readonly<Record<string, string>> {
  const pdf = !contentType.includes(',') && /^\s*application\/pdf\s*(;.*)?$/i.test(contentType);
  return pdf ? { 'Content-Type': 'application/pdf', 'X-Content-Type-Options': 'nosniff' } : { 'Content-Type': contentType, ...SANDBOXED_CONTENT };
}

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
 * The headers for an attachment of this content type. A PDF is the one type left out of the
 * sandbox: Chromium refuses to open its PDF viewer in a sandboxed document ("blocked by Chrome"),
 * and the viewer runs a PDF's script apart from the origin anyway. With `nosniff` kept, a body
 * labelled `application/pdf` is shown as a PDF or not at all, never as a page of the origin.
 */
export function attachmentHeaders(contentType: string): Readonly<Record<string, string>> {
  const mediaType = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/pdf' ? { 'X-Content-Type-Options': 'nosniff' } : SANDBOXED_CONTENT;
}

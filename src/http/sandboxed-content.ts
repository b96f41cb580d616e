// Headers for content the node serves as given by its writers (attachments, update functions'
// answers): the dashboard shares the node's origin, so an HTML or SVG attachment (anyone may put
// one on their own user document) would otherwise run script as whoever opens it, the admin too.
// A sandboxed document renders, with no script and an origin of its own. CouchDB serves such
// content active (couchapps); Refuge serves no couchapps (`_show`, `_list` are 501).

export const SANDBOXED_CONTENT: Readonly<Record<string, string>> = {
  'Content-Security-Policy': 'sandbox',
  'X-Content-Type-Options': 'nosniff',
};

// Package static embeds the portal's stylesheet, its small script, the favicon
// and the vendored htmx, and serves them under content-hashed names
// (app.3f2a1b0c9d8e.css) with a year of immutable caching. A changed file gets
// a new name, so browsers never run stale CSS or JavaScript after a deploy.
//
// Templates link files only through [Path]; the router mounts [Handler] at
// "/static/*". How htmx is configured for the portal's Content Security Policy
// is written down in vendor/htmx/CSP.md.
//
// Everything is embedded and served from the portal's own origin — htmx is
// vendored, never loaded from a CDN — so the CSP can stay at 'self'. Only
// embedded files are served, and only under their hashed names.
package static

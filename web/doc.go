// Package web is the portal's HTTP layer: one chi route table, middleware,
// sessions and handlers that parse, authorise, call a use case and render.
// It never imports a database driver or the ACS client. (Filled in by the
// sign-in and assignments issues.)
package web

// Package templates holds the portal's templ components and the typed view
// models they take. Components only escape through templ; nothing here uses
// templ.Raw or marks user data safe.
//
// Components decide nothing: a view model arrives with its strings ready to
// show and with what the person may do as flags (MayGrant, MayChange, …), so
// the package imports nothing of the portal but static, and knows neither
// the domain, nor the stores, nor the route policies.
//
// Each page keeps its components in a .templ file and the view models only
// it takes in the .go file of the same name: list.templ and list.go for the
// assignments list and its results fragment, grant (the grant form with the
// people finder and the resource-account picker), detail (one assignment:
// verification, edit form, conflict panel), revoke (the confirmation),
// expiries, lookup (look up and adopt), audit, drift, bulk (upload, plan,
// job), pages (home, no access, error, signed out) and layout (the page
// shell and its flashes). What several pages share is in components.templ
// (Principal, StateBadge, AppList, HistoryTable), fields.templ (a form's
// error summary and its fields) and view.go (the view models they take).
//
// The *_templ.go files are generated from the .templ files and committed, so
// that the portal builds with plain go build. After changing a .templ file,
// run
//
//	go generate ./...
//
// from the repository root (or go generate in this folder): it runs the templ
// version pinned in go.mod in this folder, which is what the committed files
// were made with. .ci/run fails when they differ from what it generates.
package templates

// go generate runs in this package's folder, so templ writes file names
// relative to it (pages.templ, not templates/pages.templ) into the generated
// code, wherever go generate was started.
//go:generate go tool templ generate -log-level warn

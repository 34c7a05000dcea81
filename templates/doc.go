// Package templates holds the portal's templ components and the typed view
// models they take. Components only escape through templ; nothing here uses
// templ.Raw or marks user data safe.
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

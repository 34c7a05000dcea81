// Package portal is the portal's domain: what an access assignment is (GUID,
// PrincipalKind, Assignment, InventoryItem and its VerifyState), who may do
// what (User, Role), what happened (AuditEvent and its hash chain), bulk
// plans and jobs, and the coded errors (Error, EINVALID, ENOTFOUND, …) whose
// messages are safe to show people. It exists so that the use cases
// (internal/access), the handlers (web) and the background jobs all talk in
// these types, and so that every way in — a form, a CSV row, an answer from
// ACS — is read by the same parsers (ParseGUID, ParsePrincipalKind,
// ParseClientIDs) and refuses the same inputs.
//
// It also declares the interfaces the adapters implement: ACS, Store (with
// Inventory, AuditLog and Locker), SessionStore, TokenCacheStore, Directory,
// NameStore and Authenticator. The adapters depend on this package; it
// depends on none of them.
//
// It must import only the standard library: no database driver, no HTTP
// client or router, no SDK, no other package of the portal. It does no I/O
// and never reads the clock; callers pass times in.
package portal

package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/static"
)

// routes is the one route table. Every route goes through handle() (or
// handleUpload, for a file), which records its policy, caps its body and
// wraps it in the check: a route registered any other way fails
// TestEveryRouteHasAPolicy.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	// GetHead: HEAD works wherever GET does (RFC 9110), answered by the GET
	// handler under the same policy; the server sends no body.
	r.Use(s.requestID, s.accessLog, s.recoverer, s.securityHeaders, s.crossOrigin, s.loadSession, s.limitMutations, middleware.GetHead)
	r.NotFound(s.handleNotFound)
	r.MethodNotAllowed(s.handleMethodNotAllowed)

	// Anyone, signed in or not.
	s.handle(r, "GET", "/healthz", public, s.handleHealthz)
	s.handle(r, "GET", "/readyz", public, s.handleReadyz)
	s.handle(r, "GET", "/static/*", public, static.Handler().ServeHTTP)
	s.handle(r, "GET", "/auth/login", public, s.handleLogin)
	s.handle(r, "GET", "/auth/callback", public, s.handleCallback)

	// Signed in, with or without a role (the home page explains "no access").
	s.handle(r, "GET", "/", public, s.handleHome)
	s.handle(r, "POST", "/auth/logout", signedIn, s.handleLogout)
	s.handle(r, "POST", "/auth/fresh", signedIn, s.handleFreshSignIn)

	// The no-access page, reachable directly too.
	s.handle(r, "GET", "/no-access", signedIn, s.handleNoAccess)

	// Reading: every role. The use cases scope everything to the person's
	// tenant, and refuse again what a role may not do to a kind.
	s.handle(r, "GET", "/assignments", readers, s.handleAssignmentList)
	s.handle(r, "GET", "/assignments/{objectId}", readers, s.handleAssignmentDetail)
	s.handle(r, "GET", "/assignments/{objectId}/readiness", readers, s.handleAssignmentReadiness)
	s.handle(r, "GET", "/lookup", readers, s.handleLookup)
	s.handle(r, "GET", "/drift", readers, s.handleDrift)
	s.handle(r, "GET", "/expiries", readers, s.handleExpiries)
	s.handle(r, "GET", "/bulk/jobs/{jobId}", readers, s.handleJob)
	s.handle(r, "GET", "/bulk/jobs/{jobId}/progress", readers, s.handleJobProgress)
	s.handle(r, "GET", "/bulk/jobs/{jobId}/result.csv", readers, s.handleJobResult)

	// Changing: admins and helpdesk (helpdesk: users only, checked per kind).
	s.handle(r, "GET", "/assignments/new", changers, s.handleGrantForm)
	s.handle(r, "POST", "/assignments", changers, s.handleGrant)
	s.handle(r, "GET", "/people", changers, s.handlePeople)
	// Asks Graph again for the whole inventory, on the person's token: a
	// change to what every page shows, not a read (auditors press nothing).
	s.handle(r, "POST", "/names/refresh", changers, s.handleRefreshNames)
	s.handle(r, "POST", "/assignments/{objectId}", changers, s.handleEdit)
	s.handle(r, "POST", "/assignments/{objectId}/verify", changers, s.handleVerify)
	s.handle(r, "POST", "/assignments/{objectId}/adopt", changers, s.handleAdopt)
	s.handle(r, "GET", "/assignments/{objectId}/delete", changers, s.handleRevokeConfirm)
	s.handle(r, "POST", "/assignments/{objectId}/delete", changers, s.handleRevoke)
	s.handle(r, "DELETE", "/assignments/{objectId}", changers, s.handleRevoke)
	s.handle(r, "POST", "/assignments/{objectId}/reapply", changers, s.handleRepair(portal.ActionReapply))
	s.handle(r, "POST", "/assignments/{objectId}/accept", changers, s.handleRepair(portal.ActionAccept))

	s.handle(r, "GET", "/bulk", changers, s.handleBulkForm)
	s.handle(r, "GET", "/bulk/template.csv", changers, s.handleBulkTemplate)
	s.handleUpload(r, "POST", "/bulk", changers, maxUploadBody, s.handleBulkUpload)
	s.handle(r, "GET", "/bulk/{planId}", changers, s.handlePlan)
	s.handle(r, "POST", "/bulk/{planId}/apply", changers, s.handleApply)
	s.handle(r, "POST", "/bulk/jobs/{jobId}/cancel", changers, s.handleJobCancel)
	s.handle(r, "POST", "/bulk/jobs/{jobId}/resume", changers, s.handleJobResume)

	// Admins only.
	s.handle(r, "POST", "/reconcile", admins, s.handleReconcileNow)
	s.handle(r, "POST", "/drift/repair", admins, s.handleRepairMany)
	s.handle(r, "GET", "/resource-accounts", admins, s.handleResourceAccounts)

	// The audit log and exports: admins and auditors.
	s.handle(r, "GET", "/audit", auditors, s.handleAudit)
	s.handle(r, "GET", "/audit.csv", auditors, s.handleAuditCSV)
	s.handle(r, "GET", "/assignments.csv", auditors, s.handleAssignmentsCSV)
	s.handle(r, "GET", "/readiness", auditors, s.handleReadiness)
	s.handle(r, "POST", "/readiness", auditors, s.handleCheckAgain)
	s.handle(r, "POST", "/readiness/revoke", changers, s.handleRevokeNotReady)

	return r
}

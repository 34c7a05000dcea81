package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// nameBook names the IDs one page shows: people and resource accounts by
// display name and UPN, apps by their service principal, as the names use
// case found them (access.Service.NamesFor), and carries its note on why
// some are missing for the layout to show.
type nameBook struct{ access.PageNames }

// names asks the use cases for the names a page showing req needs.
func (s *Server) names(r *http.Request, req access.NameRequest) *nameBook {
	return &nameBook{s.deps.Access.NamesFor(r.Context(), s.who(r), s.graphToken(r), req)}
}

// note is why names are missing from the page ("" for none), for the
// layout (templates.Page.NamesNote).
func (nb *nameBook) note() string {
	if nb == nil {
		return ""
	}
	return nb.Note
}

// graphToken gets the signed-in person of r their Microsoft Graph token,
// from their session's sealed token cache. It may be called after r has
// ended (a names lookup going on in the background).
func (s *Server) graphToken(r *http.Request) access.GraphToken {
	sess, u := sessionFrom(r.Context()), userFrom(r.Context())
	if sess == nil || u == nil {
		return func(context.Context) (string, error) {
			return "", portal.Errorf(portal.EUNAUTHORIZED, "Sign in to see names.")
		}
	}
	key, who := hashKey(sess.ID), *u
	return func(ctx context.Context) (string, error) { return s.deps.Auth.GraphToken(ctx, key, who) }
}

// name is what the page can say about object id.
func (nb *nameBook) name(id portal.GUID) templates.NameView {
	if nb == nil {
		return templates.NameView{}
	}
	return nameView(nb.Objects[id])
}

func nameView(n portal.DirectoryName) templates.NameView {
	if !n.Known() {
		return templates.NameView{}
	}
	if !n.Found {
		return templates.NameView{Deleted: true}
	}
	return templates.NameView{Name: n.Label(), UPN: n.UPN, Phone: n.Phone}
}

// app is the service principal's name of app id, and whether the tenant
// has none.
func (nb *nameBook) app(id portal.GUID) (name string, noServicePrincipal bool) {
	if nb == nil {
		return "", false
	}
	n, ok := nb.Apps[id]
	if !ok || !n.Known() {
		return "", false
	}
	return n.DisplayName, !n.Found
}

// itemNames is the name request for inventory rows: their principals and
// their apps.
func itemNames(items ...portal.InventoryItem) access.NameRequest {
	var req access.NameRequest
	if len(items) > 1 { // a page's fifty, sized once
		req.Objects, req.Apps = make([]portal.GUID, 0, len(items)), make([]portal.GUID, 0, len(items))
	}
	for _, it := range items {
		req.Objects = append(req.Objects, it.ObjectID)
		req.Apps = append(req.Apps, it.ClientIDs...)
		if it.Kind == portal.KindResourceAccount {
			req.ResourceAccounts = append(req.ResourceAccounts, it.ObjectID)
		}
	}
	return req
}

// handleRefreshNames asks Graph again for every name of the tenant's
// inventory, now. POST /names/refresh
func (s *Server) handleRefreshNames(w http.ResponseWriter, r *http.Request) {
	if _, err := postForm(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	who := s.who(r)
	ctx := r.Context()
	asked, gone, err := s.deps.Access.RefreshAllNames(ctx, who, s.graphToken(r))
	if err != nil {
		s.log.WarnContext(ctx, "names refresh failed", "event", "names.refresh_all", "request_id", requestIDFrom(ctx), "err", err)
		s.addFlash(w, r, "error", "Names were not refreshed: "+portal.ErrorMessage(err))
	} else {
		msg := fmt.Sprintf("Names refreshed from Microsoft Graph for %d assignment(s).", asked)
		if gone > 0 {
			msg += fmt.Sprintf(" No longer in the directory: %d, flagged in the list.", gone)
		}
		s.addFlash(w, r, "success", msg)
	}
	redirectAfterPost(w, r, "/assignments")
}

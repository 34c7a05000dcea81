package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// nameBook names the IDs one page shows: people and resource accounts by
// display name and UPN, apps by their service principal. It is read from the
// portal's cache. IDs never named are asked of Graph while the page waits
// (at most namesWait), names older than access.NamesMaxAge in the
// background; either way on the person's own token. A nil nameBook names
// nothing: pages then show IDs, as they do whenever Graph is unavailable.
type nameBook struct {
	objects map[portal.GUID]portal.DirectoryName
	apps    map[portal.GUID]portal.DirectoryName
}

// noteMissingNames keeps, for the page being made, why names are missing:
// the layout shows it (see page), so every page that names IDs explains
// their absence the same way.
func noteMissingNames(ctx context.Context, note string) {
	if p, ok := ctx.Value(ctxNamesNote).(*string); ok && note != "" {
		*p = note
	}
}

func namesNoteFrom(ctx context.Context) string {
	p, _ := ctx.Value(ctxNamesNote).(*string)
	if p == nil {
		return ""
	}
	return *p
}

// namesWait bounds how long a page waits for names it has never had. A
// lookup still running then goes on in the background: the next page has
// the names.
const namesWait = 2 * time.Second

// namesBackgroundTimeout bounds a lookup nobody waits for.
const namesBackgroundTimeout = 30 * time.Second

// names reads the cache for req and asks Graph for what it lacks.
func (s *Server) names(r *http.Request, req access.NameRequest) *nameBook {
	ctx, who := r.Context(), s.who(r)
	nb := &nameBook{}
	var err error
	read := func() {
		if nb.objects, err = s.deps.Access.Names(ctx, who, portal.SpaceObject, req.Objects); err == nil {
			nb.apps, err = s.deps.Access.Names(ctx, who, portal.SpaceApp, req.Apps)
		}
	}
	if read(); err != nil {
		s.log.WarnContext(ctx, "names unreadable", "event", "names.read", "request_id", requestIDFrom(ctx), "err", err)
		noteMissingNames(ctx, "Names are not shown: "+portal.ErrorMessage(err))
		return nil
	}
	if s.deps.Directory == nil || req.Empty() {
		return nb
	}
	missingObjects, staleObjects := s.deps.Access.NamesDue(req.Objects, nb.objects)
	missingApps, staleApps := s.deps.Access.NamesDue(req.Apps, nb.apps)
	if stale := (access.NameRequest{Objects: staleObjects, Apps: staleApps, ResourceAccounts: req.ResourceAccounts}); !stale.Empty() {
		s.refreshNamesLater(r, stale)
	}
	if who.User.Has(portal.RoleAdmin) {
		// Numbers come only from the resource-account list, which needs a
		// Teams admin: an account named by someone else has none yet.
		for _, id := range req.ResourceAccounts {
			if n := nb.objects[id]; n.Found && n.Kind != portal.KindResourceAccount && !slices.Contains(missingObjects, id) {
				missingObjects = append(missingObjects, id)
			}
		}
	}
	missing := access.NameRequest{Objects: missingObjects, Apps: missingApps, ResourceAccounts: req.ResourceAccounts}
	if missing.Empty() {
		return nb
	}
	done := s.refreshNames(r, missing)
	select {
	case err := <-done:
		if err != nil {
			noteMissingNames(ctx, "Some names are not shown: "+portal.ErrorMessage(err))
		}
		read()
	case <-time.After(namesWait):
		noteMissingNames(ctx, "Some names are still being looked up in Microsoft Graph; reload the page in a moment to see them.")
	}
	if err != nil {
		return nil
	}
	return nb
}

// refreshNames looks req up in Graph in the background, on the person's
// token, and reports the outcome on the channel. It outlives the request
// (bounded by namesBackgroundTimeout), so a slow Graph still fills the cache.
func (s *Server) refreshNames(r *http.Request, req access.NameRequest) <-chan error {
	done := make(chan error, 1)
	who := s.who(r)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), namesBackgroundTimeout)
	go func() {
		defer cancel()
		token, err := s.graphToken(ctx)
		if err == nil {
			err = s.deps.Access.RefreshNames(ctx, who, token, req)
		}
		if err != nil {
			s.log.WarnContext(ctx, "names lookup failed", "event", "names.refresh", "request_id", requestIDFrom(ctx), "err", err)
		}
		done <- err
	}()
	return done
}

// refreshNamesLater renews stale names without holding up the page, one
// renewal per tenant at a time: many people reading the same list ask for
// the same names.
func (s *Server) refreshNamesLater(r *http.Request, req access.NameRequest) {
	tenant := s.who(r).User.TenantID
	if _, running := s.namesRenewing.LoadOrStore(tenant, struct{}{}); running {
		return
	}
	done := s.refreshNames(r, req)
	go func() {
		<-done
		s.namesRenewing.Delete(tenant)
	}()
}

// graphToken is the signed-in person's Microsoft Graph token, from their
// session's sealed token cache. ctx is a request's (or one detached from
// it): the session and person are read from it.
func (s *Server) graphToken(ctx context.Context) (string, error) {
	return s.deps.Auth.GraphToken(ctx, hashKey(sessionFrom(ctx).ID), *userFrom(ctx))
}

// name is what the page can say about object id.
func (nb *nameBook) name(id portal.GUID) templates.NameView {
	if nb == nil {
		return templates.NameView{}
	}
	return nameView(nb.objects[id])
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
	n, ok := nb.apps[id]
	if !ok || !n.Known() {
		return "", false
	}
	return n.DisplayName, !n.Found
}

// itemNames is the name request for inventory rows: their principals and
// their apps.
func itemNames(items ...portal.InventoryItem) access.NameRequest {
	var req access.NameRequest
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
	ctx, cancel := context.WithTimeout(r.Context(), namesBackgroundTimeout)
	defer cancel()
	token, err := s.graphToken(ctx)
	var asked, gone int
	if err == nil {
		asked, gone, err = s.deps.Access.RefreshAllNames(ctx, who, token)
	}
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

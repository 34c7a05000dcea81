// Package storekit is what the SQLite and PostgreSQL stores compute in Go
// rather than in SQL — checks, page sizes — so that both answer alike from
// one copy. It holds no SQL and imports no driver.
package storekit

import (
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// Page sizes of ListAudit: a filter's Limit of 0 or less takes the
// default, and no page holds more than the maximum.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// CheckChange refuses an inventory change that does not fit its audit
// row (another assignment, no kind, an unknown state) before a store writes
// either: the two are written together or not at all.
func CheckChange(ev portal.AuditEvent, change portal.InventoryChange) error {
	it := change.Item
	switch change.Op {
	case portal.InventoryKeep:
		return nil
	case portal.InventoryPut, portal.InventoryDelete, portal.InventoryVerified:
	default:
		return portal.Errorf(portal.EINVALID, "Unknown change to the inventory.")
	}
	if it.TenantID.IsZero() || it.ObjectID.IsZero() {
		return portal.Errorf(portal.EINVALID, "The change names no assignment.")
	}
	if ev.TenantID != it.TenantID || ev.ObjectID != it.ObjectID {
		return portal.Errorf(portal.EINVALID, "The audit row and the change name different assignments.")
	}
	if change.Op == portal.InventoryPut && it.Kind != portal.KindUser && it.Kind != portal.KindResourceAccount {
		return portal.Errorf(portal.EINVALID, "The kind of principal is missing.")
	}
	if change.Op != portal.InventoryDelete && it.State != "" {
		if _, err := portal.ParseVerifyState(string(it.State)); err != nil {
			return err
		}
	}
	return nil
}

// StateOrUnverified is how a row without a verification state is stored.
func StateOrUnverified(s portal.VerifyState) portal.VerifyState {
	if s == "" {
		return portal.StateUnverified
	}
	return s
}

// IDFragment returns the part of a GUID that s could be: s itself if it is
// made of hex digits and dashes, the canonical form if s is a whole GUID
// (braces allowed), and "" if s cannot be part of any GUID.
func IDFragment(s string) string {
	if g, err := portal.ParseGUID(s); err == nil {
		return g.String()
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return ""
		}
	}
	return s
}

// PageSize is the page size a filter's Limit asks for, within bounds.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// RolesText is how a job's roles are stored: space-separated, each
// without spaces.
func RolesText(roles []portal.Role) string {
	var b strings.Builder
	for _, r := range roles {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ReplaceAll(string(r), " ", ""))
	}
	return b.String()
}

// CheckNames refuses, before a store writes any, names it must not cache
// for tenant: another tenant's (each tenant's names are shown to that
// tenant's people only), or without a known space, an ID or a known kind.
func CheckNames(tenant portal.GUID, names []portal.DirectoryName) error {
	for _, n := range names {
		if tenant.IsZero() || n.TenantID != tenant {
			return portal.Errorf(portal.EINVALID, "A directory name is not of the tenant it is cached for.")
		}
		if n.Space != portal.SpaceObject && n.Space != portal.SpaceApp {
			return portal.Errorf(portal.EINVALID, "A directory name has no known kind of ID.")
		}
		if n.ID.IsZero() {
			return portal.Errorf(portal.EINVALID, "A directory name has no ID.")
		}
		switch n.Kind {
		case portal.KindUnknown, portal.KindUser, portal.KindResourceAccount:
		default:
			return portal.Errorf(portal.EINVALID, "A directory name names an unknown kind of principal.")
		}
	}
	return nil
}

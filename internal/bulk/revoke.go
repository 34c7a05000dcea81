package bulk

import (
	"context"
	"io"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// PlanRevoke is a plan that revokes each of ids, as a file of revoke rows
// would (line 2 onwards): for a fix the portal hands out for many at once,
// such as the people the readiness checks found whose access cannot work.
// It is reviewed and applied like any uploaded plan; name says where it
// came from.
func (p *Planner) PlanRevoke(ctx context.Context, who access.Who, token access.GraphToken, name string, ids []portal.GUID) (portal.Plan, error) {
	if len(ids) == 0 {
		return portal.Plan{}, portal.Errorf(portal.EINVALID, "There is nobody to revoke.")
	}
	rows := func(_ io.Reader, _ Limits, row func(Row) error, _ func(RowError) error) (int, error) {
		for i, id := range ids {
			if err := row(Row{Line: i + 2, Action: Revoke, ObjectID: id}); err != nil {
				return i, err
			}
		}
		return len(ids), nil
	}
	return p.plan(ctx, who, token, name, nil, rows, p.classify)
}

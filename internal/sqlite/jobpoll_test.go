package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A poll of a job's progress reads the job's counts, its rate and the rows
// its page shows by index searches alone: what it reads does not grow with
// the job (issue #13: a poll of a 50,000-row job costs what one of a
// 50-row job does). A full scan of any table but the list of lines asked
// for fails, and so does a range of a job's rows or its plan's (as the
// count of a page of JobRows reads: checked to fail here).
func TestJobPollReadsByIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"counts":   {jobCountsSQL, []any{"job"}},
		"rate":     {jobRateSQL, []any{"job", "job", 30}},
		"rows at":  {jobRowsAtSQL, []any{"[2,3,4]", "job", "tenant"}},
		"the job":  {`SELECT ` + jobColumns + ` FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, []any{"job", "tenant"}},
		"the plan": {`SELECT checks FROM bulk_plans WHERE id = ? AND tenant_id = ?`, []any{"plan", "tenant"}},
	} {
		rows, err := db.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		searched := false
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && !strings.HasPrefix(step, "SCAN json_each") {
				t.Errorf("%s scans: %q", name, plan)
			}
			searched = searched || strings.HasPrefix(step, "SEARCH")
			// A job's rows and its plan's are many: only whole keys are
			// looked up, never a range of the job (a count, a page).
			if (strings.Contains(step, " p USING") || strings.Contains(step, " j USING")) && !strings.Contains(step, "line=?") {
				t.Errorf("%s reads a range of the job's rows: %q", name, step)
			}
		}
		if !searched {
			t.Errorf("%s searches no index: %q", name, plan)
		}
	}
}

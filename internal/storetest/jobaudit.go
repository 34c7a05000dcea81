package storetest

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

var lineRE = regexp.MustCompile(`bulk job (\S+), line (\d+)`)

// CheckJobAudit checks what a finished bulk job left in the audit log
// (issue 14), for the tests that crash a job on purpose: each of the job's
// lines has exactly one audit row that ends it — an outcome or an event,
// not counting an intent that a resume settled as not applied, after
// which the line went on — and it says what the line's result says; and
// every intent in the log has exactly one outcome citing it. short is the
// job's ID as its rows' details name it (access.ShortID). With the zero
// job, only the intents are checked.
func CheckJobAudit(t testing.TB, db portal.Store, job portal.Job, short string) {
	t.Helper()
	ctx := context.Background()
	ends := map[int][]portal.AuditOutcome{}
	cited := map[int64]int{}
	var intents []int64
	err := db.WalkAudit(ctx, portal.GUID{}, func(ev portal.AuditEvent) error {
		switch ev.Phase {
		case portal.PhaseIntent:
			intents = append(intents, ev.Seq)
			return nil
		case portal.PhaseOutcome:
			cited[ev.IntentSeq]++
		}
		m := lineRE.FindStringSubmatch(ev.Detail)
		if m == nil || m[1] != short || ev.TenantID != job.TenantID ||
			ev.Outcome == portal.OutcomeFailed && strings.HasPrefix(ev.Detail, "Not applied:") {
			return nil
		}
		line, _ := strconv.Atoi(m[2])
		ends[line] = append(ends[line], ev.Outcome)
		return nil
	})
	if err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	var rows []portal.JobRow
	if job.ID != "" {
		if rows, _, err = db.JobRows(ctx, job.TenantID, job.ID, "", 0, -1); err != nil {
			t.Fatalf("JobRows: %v", err)
		}
	}
	bad := 0
	for _, r := range rows {
		if r.Status == "" {
			continue // a plan row that is not part of the job
		}
		if got := ends[r.Line]; len(got) != 1 || got[0] != r.Outcome {
			if bad++; bad <= 20 {
				t.Errorf("line %d: audit outcomes %v, result %s (%s); want exactly one, the result's", r.Line, got, r.Outcome, r.Detail)
			}
		}
	}
	for _, seq := range intents {
		if cited[seq] != 1 {
			if bad++; bad <= 40 {
				t.Errorf("intent %d has %d outcomes, want 1", seq, cited[seq])
			}
		}
	}
}

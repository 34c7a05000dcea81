package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	m := New(Sources{
		AuditRows:      func(context.Context) (int64, error) { return 41, nil },
		ActiveSessions: func(context.Context) (int64, error) { return 0, errors.New("database down") },
		JobRows:        func(context.Context) (map[string]int64, error) { return map[string]int64{"pending": 7, "done": 3}, nil },
		AuditCheckpoint: func(context.Context) (int64, int64, time.Time, error) {
			return 12, 4812, time.Date(2026, 12, 7, 14, 0, 0, 500e6, time.UTC), nil
		},
	})
	m.ObserveRequest("/assignments/{objectId}", "GET", 200, 12*time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveACSCall("PUT", 201, 3, 80*time.Millisecond)
	m.ObserveBulkRow("success")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	scrape := func() string {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// A scrape collects concurrently: the failed count it noted shows in
	// the next one.
	scrape()
	text := scrape()
	for _, want := range []string{
		`portal_http_requests_total{method="GET",route="/assignments/{objectId}",status="200"} 1`,
		`portal_http_requests_total{method="GET",route="(none)",status="404"} 1`,
		`portal_acs_calls_total{method="PUT",status="201"} 1`,
		`portal_acs_retries_total{method="PUT"} 2`,
		`portal_bulk_rows_total{outcome="success"} 1`,
		`portal_audit_rows 41`,
		`portal_audit_checkpoint_seq 4812`,
		`portal_audit_checkpoint_number 12`,
		`portal_audit_checkpoint_timestamp_seconds 1.7966520005e+09`,
		`portal_bulk_job_rows{status="pending"} 7`,
		`portal_metrics_source_errors_total{source="sessions"} `,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "portal_sessions_active ") {
		t.Error("a failed count was reported as a value")
	}
}

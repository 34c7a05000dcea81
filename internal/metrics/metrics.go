// Package metrics is the portal's Prometheus adapter: the one place that
// knows the client library. Other packages see small observer interfaces
// (web.RequestObserver, acs.CallObserver, jobs.RowObserver) that a *Metrics
// satisfies, so none of them imports Prometheus, and a nil observer costs
// nothing.
//
// It is served on its own listen address (PORTAL_METRICS_ADDR), never on the
// portal's public one: the numbers say how busy a tenant is.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read when Prometheus scrapes: counts the database holds.
// Each may be nil. A failing source is left out of that scrape and
// counted in portal_metrics_source_errors_total.
type Sources struct {
	AuditRows func(ctx context.Context) (int64, error) // the audit chain's length
	// AuditCheckpoint is the newest signed checkpoint of the chain: its
	// number, the head row it anchors and when it was signed (number 0:
	// none yet, and no gauges).
	AuditCheckpoint func(ctx context.Context) (number, seq int64, signed time.Time, err error)
	ActiveSessions  func(ctx context.Context) (int64, error) // sessions not yet expired
	JobRows         func(ctx context.Context) (map[string]int64, error)
	// ListIndex is what this instance holds in memory for inventory lists:
	// tenants, rows and estimated bytes.
	ListIndex func() (tenants, rows, bytes int64)
	// ACSAccess is the state of the last probe of the portal's access to
	// ACS (pass, fail, unknown), at most a minute old.
	ACSAccess func(ctx context.Context) string
}

// Metrics holds the portal's collectors in a registry of its own.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	acsCalls     *prometheus.CounterVec
	acsRetries   *prometheus.CounterVec
	acsLatency   *prometheus.HistogramVec
	bulkRows     *prometheus.CounterVec
	sourceErrors *prometheus.CounterVec
}

// New registers the collectors, the Go runtime's and the process's among
// them.
func New(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portal_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	m.acsCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_acs_calls_total", Help: "Calls to ACS, by method and final status (0: no answer).",
	}, []string{"method", "status"})
	m.acsRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_acs_retries_total", Help: "Attempts beyond the first made by calls to ACS (throttling, 5xx, lost connections), by method.",
	}, []string{"method"})
	m.acsLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portal_acs_call_duration_seconds", Help: "Time of a call to ACS, retries included, by method.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"method"})
	m.bulkRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_bulk_rows_total", Help: "Rows of bulk jobs applied by this instance, by outcome.",
	}, []string{"outcome"})
	m.sourceErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_metrics_source_errors_total", Help: "Scrapes in which a database count could not be read, by count.",
	}, []string{"source"})
	m.reg.MustRegister(m.requests, m.latency, m.acsCalls, m.acsRetries, m.acsLatency, m.bulkRows, m.sourceErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(&dbCollector{src: src, errs: m.sourceErrors})
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one answered request.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "(none)" // a 404: the path itself would let anyone grow the label set
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// ObserveACSCall counts one call to ACS.
func (m *Metrics) ObserveACSCall(method string, status, attempts int, d time.Duration) {
	m.acsCalls.WithLabelValues(method, strconv.Itoa(status)).Inc()
	if attempts > 1 {
		m.acsRetries.WithLabelValues(method).Add(float64(attempts - 1))
	}
	m.acsLatency.WithLabelValues(method).Observe(d.Seconds())
}

// ObserveBulkRow counts one row of a bulk job finished here.
func (m *Metrics) ObserveBulkRow(outcome string) { m.bulkRows.WithLabelValues(outcome).Inc() }

// dbCollector reads the database's counts at scrape time: they are shared
// by every instance, so each reports the same numbers.
type dbCollector struct {
	src  Sources
	errs *prometheus.CounterVec
}

var (
	auditRowsDesc = prometheus.NewDesc("portal_audit_rows", "Rows in the audit log's hash chain.", nil, nil)
	sessionsDesc  = prometheus.NewDesc("portal_sessions_active", "Sessions that have not expired.", nil, nil)
	jobRowsDesc   = prometheus.NewDesc("portal_bulk_job_rows", "Rows of queued and running bulk jobs, by status (pending, running, done).", []string{"status"}, nil)
	listTenants   = prometheus.NewDesc("portal_list_index_tenants", "Tenants whose inventory list this instance holds in memory.", nil, nil)
	listRows      = prometheus.NewDesc("portal_list_index_rows", "Inventory rows this instance holds in memory for lists.", nil, nil)
	listBytes     = prometheus.NewDesc("portal_list_index_bytes", "Estimated bytes this instance holds in memory for inventory lists.", nil, nil)
	acsAccessDesc = prometheus.NewDesc("portal_acs_access", "1 for the state of the last probe of whether the portal may call ACS (pass, fail, unknown), 0 for the others.", []string{"state"}, nil)
	// The newest checkpoint, so that the monitoring system holds the head
	// too: a value that goes down means checkpoints were deleted.
	checkpointSeq    = prometheus.NewDesc("portal_audit_checkpoint_seq", "The audit row the newest signed checkpoint anchors (the chain's head when it was signed).", nil, nil)
	checkpointNumber = prometheus.NewDesc("portal_audit_checkpoint_number", "The number of the newest signed audit checkpoint.", nil, nil)
	checkpointTime   = prometheus.NewDesc("portal_audit_checkpoint_timestamp_seconds", "When the newest audit checkpoint was signed, in Unix seconds.", nil, nil)
)

// acsAccessStates are the states portal_acs_access reports, each always.
var acsAccessStates = []string{"pass", "fail", "unknown"}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- auditRowsDesc
	ch <- sessionsDesc
	ch <- jobRowsDesc
	ch <- listTenants
	ch <- listRows
	ch <- listBytes
	ch <- acsAccessDesc
	ch <- checkpointSeq
	ch <- checkpointNumber
	ch <- checkpointTime
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(name string, desc *prometheus.Desc, read func(context.Context) (int64, error)) {
		if read == nil {
			return
		}
		n, err := read(ctx)
		if err != nil {
			c.errs.WithLabelValues(name).Inc()
			return
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n))
	}
	gauge("audit_rows", auditRowsDesc, c.src.AuditRows)
	gauge("sessions", sessionsDesc, c.src.ActiveSessions)
	if c.src.AuditCheckpoint != nil {
		switch number, seq, signed, err := c.src.AuditCheckpoint(ctx); {
		case err != nil:
			c.errs.WithLabelValues("audit_checkpoint").Inc()
		case number > 0:
			ch <- prometheus.MustNewConstMetric(checkpointSeq, prometheus.GaugeValue, float64(seq))
			ch <- prometheus.MustNewConstMetric(checkpointNumber, prometheus.GaugeValue, float64(number))
			ch <- prometheus.MustNewConstMetric(checkpointTime, prometheus.GaugeValue, float64(signed.UnixMilli())/1000)
		}
	}
	if c.src.ListIndex != nil {
		tenants, rows, bytes := c.src.ListIndex()
		ch <- prometheus.MustNewConstMetric(listTenants, prometheus.GaugeValue, float64(tenants))
		ch <- prometheus.MustNewConstMetric(listRows, prometheus.GaugeValue, float64(rows))
		ch <- prometheus.MustNewConstMetric(listBytes, prometheus.GaugeValue, float64(bytes))
	}
	if c.src.ACSAccess != nil {
		now := c.src.ACSAccess(ctx)
		for _, st := range acsAccessStates {
			v := 0.0
			if st == now {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(acsAccessDesc, prometheus.GaugeValue, v, st)
		}
	}
	if c.src.JobRows != nil {
		rows, err := c.src.JobRows(ctx)
		if err != nil {
			c.errs.WithLabelValues("job_rows").Inc()
			return
		}
		for status, n := range rows {
			ch <- prometheus.MustNewConstMetric(jobRowsDesc, prometheus.GaugeValue, float64(n), status)
		}
	}
}

// Package telemetry sets up Kiln's logs (log/slog) and Prometheus metrics.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Kiln's Prometheus collectors in their own registry.
type Metrics struct {
	reg           *prometheus.Registry
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	buildsEnded   *prometheus.CounterVec
	buildDuration *prometheus.HistogramVec
}

// BuildCounter counts builds by status for the builds-by-status gauge.
type BuildCounter func(ctx context.Context) (map[string]int64, error)

// NewMetrics registers the collectors. counts, when set, is called at
// scrape time for kiln_builds{status} (queued builds are the queue depth).
func NewMetrics(counts BuildCounter, logger *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method", "route"}),
		buildsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_builds_finished_total", Help: "Builds this process finished, by final status.",
		}, []string{"status"}),
		buildDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_build_duration_seconds", Help: "Build duration by final status.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 40, 60, 120, 300, 600, 900},
		}, []string{"status"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.buildsEnded, m.buildDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if counts != nil {
		m.reg.MustRegister(&buildGauge{counts: counts, log: logger})
	}
	return m
}

// ObserveHTTP records one request.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveBuild records a finished build.
func (m *Metrics) ObserveBuild(status string, d time.Duration) {
	m.buildsEnded.WithLabelValues(status).Inc()
	m.buildDuration.WithLabelValues(status).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// buildGauge reports builds by status from the database at scrape time.
type buildGauge struct {
	counts BuildCounter
	log    *slog.Logger
}

var buildsDesc = prometheus.NewDesc("kiln_builds", "Builds stored, by status (queued = queue depth).", []string{"status"}, nil)

func (g *buildGauge) Describe(ch chan<- *prometheus.Desc) { ch <- buildsDesc }

func (g *buildGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := g.counts(ctx)
	if err != nil {
		if g.log != nil {
			g.log.Warn("count builds for metrics", slog.Any("error", err))
		}
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(buildsDesc, prometheus.GaugeValue, float64(n), status)
	}
}

package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/config"
)

func TestStreamSettings(t *testing.T) {
	c, err := config.Load(config.Source{File: writeFile(t, "stream:\n  buffer: 64\nbuild:\n  log_retention: 720h\n"),
		Environ: []string{"KILN_STREAM_PING_INTERVAL=5s", "KILN_BUILD_LOG_RETENTION=48h"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Stream.Buffer != 64 || c.Stream.PingInterval != 5*time.Second || c.Build.LogRetention != 48*time.Hour {
		t.Errorf("stream settings = %+v, log retention %s", c.Stream, c.Build.LogRetention)
	}
	if d := config.Default(); d.Build.LogRetention != 0 || d.Stream.MaxPerUser == 0 || d.Stream.TicketTTL != time.Minute {
		t.Errorf("defaults: %+v, log retention %s", d.Stream, d.Build.LogRetention)
	}

	_, err = config.Load(config.Source{File: writeFile(t, "stream:\n  buffer: 2\n  ping_interval: 1ms\n  max_per_user: 0\nbuild:\n  log_retention: 5m\n")})
	for _, field := range []string{"stream.buffer", "stream.ping_interval", "stream.max_per_user", "build.log_retention"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("want an error naming %s, got %v", field, err)
		}
	}
}

package config

import "time"

// Stream settings: the live event streams of builds (WebSocket and SSE).
type Stream struct {
	PollInterval time.Duration `koanf:"poll_interval" help:"how often a live stream reads the database when no notification woke it"`
	PingInterval time.Duration `koanf:"ping_interval" help:"keepalive ping interval of event streams"`
	IdleTimeout  time.Duration `koanf:"idle_timeout" help:"close a stream that delivered no event for this long (clients resume)"`
	WriteTimeout time.Duration `koanf:"write_timeout" help:"close a stream whose client takes no data for this long"`
	Buffer       int           `koanf:"buffer" help:"live events held per stream; a client further behind is closed as too slow"`
	MaxPerUser   int           `koanf:"max_per_user" help:"open event streams per user on one API node"`
	TicketTTL    time.Duration `koanf:"ticket_ttl" help:"lifetime of the single-use stream tickets browsers open streams with"`
}

func defaultStream() Stream {
	return Stream{
		PollInterval: 2 * time.Second,
		PingInterval: 20 * time.Second,
		IdleTimeout:  10 * time.Minute,
		WriteTimeout: 10 * time.Second,
		Buffer:       1024,
		MaxPerUser:   20,
		TicketTTL:    time.Minute,
	}
}

// validateStream checks the stream settings and build.log_retention.
func (c *Config) validateStream(bad func(field, format string, args ...any)) {
	s := c.Stream
	between := func(field string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad(field, "must be between %s and %s, got %s", lo, hi, v)
		}
	}
	between("stream.poll_interval", s.PollInterval, 10*time.Millisecond, time.Minute)
	between("stream.ping_interval", s.PingInterval, time.Second, 5*time.Minute)
	between("stream.idle_timeout", s.IdleTimeout, time.Second, 24*time.Hour)
	between("stream.write_timeout", s.WriteTimeout, 100*time.Millisecond, 5*time.Minute)
	between("stream.ticket_ttl", s.TicketTTL, time.Second, 10*time.Minute)
	if s.Buffer < 16 || s.Buffer > 1<<20 {
		bad("stream.buffer", "must be between 16 and 1048576 events, got %d", s.Buffer)
	}
	if s.MaxPerUser < 1 || s.MaxPerUser > 10000 {
		bad("stream.max_per_user", "must be between 1 and 10000, got %d", s.MaxPerUser)
	}
	if r := c.Build.LogRetention; r != 0 && r < time.Hour {
		bad("build.log_retention", "must be 0 (keep logs) or at least 1h, got %s", r)
	}
}

package sqlstore

import (
	"context"
	"fmt"
)

// CountBuildsByStatus returns how many builds are stored in each status,
// for every user; statuses with no build are absent. It reads only, on the
// read pool, so a metrics scrape never waits for the writer.
func (db *DB) CountBuildsByStatus(ctx context.Context) (map[string]int64, error) {
	rows, err := db.read().query(ctx, "SELECT status, COUNT(*) FROM builds GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("count builds: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int64)
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count builds: %w", err)
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count builds: %w", err)
	}
	return counts, nil
}

package sqlstore

import "context"

// MigrateTo lets tests stop before a migration, to check it moves old rows.
func (d *DB) MigrateTo(ctx context.Context, last int) error { return d.migrateTo(ctx, last) }

// Exec runs raw SQL, for tests that write rows as an older schema had them.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	return d.db.WithContext(ctx).Exec(query, args...).Error
}

// RawRows returns every row of a table, column by column, for tests
// that check what is stored.
func (d *DB) RawRows(ctx context.Context, table string) ([]map[string]any, error) {
	var rows []map[string]any
	err := d.db.WithContext(ctx).Table(table).Find(&rows).Error
	return rows, err
}

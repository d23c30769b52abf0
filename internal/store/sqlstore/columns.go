package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// stringList is a []string column stored as JSON text, so both dialects
// share one schema and one code path. Empty lists read back as nil.
type stringList []string

func (l stringList) Value() (driver.Value, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

func (l *stringList) Scan(src any) error {
	var v []string
	if err := scanJSON(src, &v); err != nil {
		return err
	}
	if len(v) == 0 {
		v = nil
	}
	*l = v
	return nil
}

// stringMap is a map[string]string column stored as JSON text. Empty maps
// read back as nil.
type stringMap map[string]string

func (m stringMap) Value() (driver.Value, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(m))
	return string(b), err
}

func (m *stringMap) Scan(src any) error {
	var v map[string]string
	if err := scanJSON(src, &v); err != nil {
		return err
	}
	if len(v) == 0 {
		v = nil
	}
	*m = v
	return nil
}

func scanJSON(src, dst any) error {
	switch s := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(s), dst)
	case []byte:
		return json.Unmarshal(s, dst)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as JSON", src)
	}
}

package partner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"
)

// CanonicalJSON writes a value as RFC 8785 (JCS) for the values Corridor signs: members sorted by
// name in UTF-16 code units, no whitespace, strings escaped as JCS says (only `"`, `\` and control
// characters; U+2028, emoji and the rest stay raw UTF-8 — unlike encoding/json), integers only.
func CanonicalJSON(value any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJCS(&buf, value); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const maxExactInt = 1<<53 - 1

func writeJCS(buf *bytes.Buffer, value any) error {
	switch v := value.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case string:
		writeString(buf, v)
	case int:
		return writeInt(buf, int64(v))
	case int32:
		return writeInt(buf, int64(v))
	case int64:
		return writeInt(buf, v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > maxExactInt {
			return fmt.Errorf("number %v has no canonical form here (integers only)", v)
		}
		return writeInt(buf, int64(v))
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return fmt.Errorf("number %s has no canonical form here (integers only)", v)
		}
		return writeInt(buf, n)
	case []any:
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJCS(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeJCS(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("%T values have no canonical form", value)
	}
	return nil
}

func writeInt(buf *bytes.Buffer, n int64) error {
	if n > maxExactInt || n < -maxExactInt {
		return fmt.Errorf("integer %d is beyond what JSON represents exactly", n)
	}
	buf.WriteString(strconv.FormatInt(n, 10))
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(buf, `\u%04x`, r)
			} else {
				buf.WriteRune(r)
			}
		}
	}
	buf.WriteByte('"')
}

func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// Package partner is Corridor's partner client for Go: read your partner topic (franz-go, SCRAM-SHA-512,
// read_committed), decode records through the schema registry (hamba/avro), verify certificates
// (Ed25519 over RFC 8785 canonical JSON) and webhook signatures. docs/partners/go.md shows how.
//
// Decoded values are handed out in the "plain" form of contracts/vectors/README.md: decimals as strings
// with the schema's scale, instants as UTC "…T…​.mmmZ" strings, dates "YYYY-MM-DD", uuids and enums as
// strings, bytes as base64, unions unwrapped, nulls kept.
package partner

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// Plain turns a value hamba/avro decoded into `any` into its plain form, walking the writer's schema.
func Plain(schema avro.Schema, value any) (any, error) {
	switch s := deref(schema).(type) {
	case *avro.RecordSchema:
		record, ok := value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a record, got %T", s.FullName(), value)
		}
		out := make(map[string]any, len(s.Fields()))
		for _, field := range s.Fields() {
			v, err := Plain(field.Type(), record[field.Name()])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.Name(), field.Name(), err)
			}
			out[field.Name()] = v
		}
		return out, nil
	case *avro.UnionSchema:
		if value == nil {
			return nil, nil
		}
		branch, err := onlyBranch(s)
		if err != nil {
			return nil, err
		}
		// the decoder wraps a union's value in a one-member map keyed by the branch: a named type by its
		// full name, an array, map or other unnamed type by its type ("array" for ["null", {"type":
		// "array", ...}], the invoices of a certificate)
		if wrapped, ok := value.(map[string]any); ok && len(wrapped) == 1 {
			key := string(deref(branch).Type())
			if named, ok := deref(branch).(avro.NamedSchema); ok {
				key = named.FullName()
			}
			if inner, ok := wrapped[key]; ok {
				value = inner
			}
		}
		return Plain(branch, value)
	case *avro.ArraySchema:
		items, ok := value.([]any)
		if !ok {
			return nil, fmt.Errorf("expected an array, got %T", value)
		}
		out := make([]any, len(items))
		for i, item := range items {
			v, err := Plain(s.Items(), item)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	case *avro.EnumSchema:
		return fmt.Sprint(value), nil
	case *avro.PrimitiveSchema:
		return plainPrimitive(s, value)
	default:
		return nil, fmt.Errorf("unsupported Avro schema %s", schema.Type())
	}
}

func deref(schema avro.Schema) avro.Schema {
	if ref, ok := schema.(*avro.RefSchema); ok {
		return ref.Schema()
	}
	return schema
}

func onlyBranch(union *avro.UnionSchema) (avro.Schema, error) {
	var found avro.Schema
	for _, branch := range union.Types() {
		if branch.Type() == avro.Null {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("only unions of null and one type are supported")
		}
		found = branch
	}
	return found, nil
}

func plainPrimitive(s *avro.PrimitiveSchema, value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	if logical := s.Logical(); logical != nil {
		switch logical.Type() {
		case avro.Decimal:
			rat, ok := value.(*big.Rat)
			if !ok {
				return nil, fmt.Errorf("decimal: got %T", value)
			}
			return rat.FloatString(logical.(*avro.DecimalLogicalSchema).Scale()), nil
		case avro.TimestampMillis:
			t, ok := value.(time.Time)
			if !ok {
				return nil, fmt.Errorf("timestamp-millis: got %T", value)
			}
			return IsoMillis(t), nil
		case avro.Date:
			t, ok := value.(time.Time)
			if !ok {
				return nil, fmt.Errorf("date: got %T", value)
			}
			return t.UTC().Format("2006-01-02"), nil
		case avro.UUID:
			return fmt.Sprint(value), nil
		}
	}
	switch s.Type() {
	case avro.Bytes, avro.Fixed:
		raw, ok := value.([]byte)
		if !ok {
			return nil, fmt.Errorf("bytes: got %T", value)
		}
		return base64.StdEncoding.EncodeToString(raw), nil
	default:
		return value, nil // string, boolean, int, long, float, double
	}
}

// IsoMillis is an instant as UTC with exactly three fraction digits and Z.
func IsoMillis(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// Canonical is what an issuer signs of a plain value: members whose value is null left out at every
// depth, decimals in plain notation without trailing fractional zeros ("5512.400" → "5512.4").
func Canonical(schema avro.Schema, value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	switch s := deref(schema).(type) {
	case *avro.RecordSchema:
		record, ok := value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected an object, got %T", s.FullName(), value)
		}
		out := map[string]any{}
		for _, field := range s.Fields() {
			v, present := record[field.Name()]
			if !present || v == nil {
				continue
			}
			c, err := Canonical(field.Type(), v)
			if err != nil {
				return nil, err
			}
			out[field.Name()] = c
		}
		return out, nil
	case *avro.UnionSchema:
		branch, err := onlyBranch(s)
		if err != nil {
			return nil, err
		}
		return Canonical(branch, value)
	case *avro.ArraySchema:
		items, ok := value.([]any)
		if !ok {
			return nil, fmt.Errorf("expected an array, got %T", value)
		}
		out := make([]any, len(items))
		for i, item := range items {
			c, err := Canonical(s.Items(), item)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case *avro.PrimitiveSchema:
		if logical := s.Logical(); logical != nil && logical.Type() == avro.Decimal {
			return NormaliseDecimal(fmt.Sprint(value))
		}
	}
	return value, nil
}

var plainDecimal = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

// NormaliseDecimal writes a decimal without trailing fractional zeros or trailing point; zero is "0".
func NormaliseDecimal(text string) (string, error) {
	if !plainDecimal.MatchString(text) {
		return "", fmt.Errorf("decimal %q is not in plain notation", text)
	}
	negative := strings.HasPrefix(text, "-")
	whole, fraction, _ := strings.Cut(strings.TrimPrefix(text, "-"), ".")
	fraction = strings.TrimRight(fraction, "0")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	body := whole
	if fraction != "" {
		body = whole + "." + fraction
	}
	if body == "0" {
		return "0", nil
	}
	if negative {
		return "-" + body, nil
	}
	return body, nil
}

// FromJSON is the plain form of an event that came as JSON (a webhook's data, the gateway's body),
// decoded with encoding/json (UseNumber advised): members left out become nil, instants written with an
// offset ("2026-03-01T15:00:00+05:00") become UTC milliseconds; decimals stay the strings they are.
func FromJSON(schema avro.Schema, value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	switch s := deref(schema).(type) {
	case *avro.RecordSchema:
		record, ok := value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected an object, got %T", s.FullName(), value)
		}
		out := make(map[string]any, len(s.Fields()))
		for _, field := range s.Fields() {
			v, err := FromJSON(field.Type(), record[field.Name()])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.Name(), field.Name(), err)
			}
			out[field.Name()] = v
		}
		return out, nil
	case *avro.UnionSchema:
		branch, err := onlyBranch(s)
		if err != nil {
			return nil, err
		}
		return FromJSON(branch, value)
	case *avro.ArraySchema:
		items, ok := value.([]any)
		if !ok {
			return nil, fmt.Errorf("expected an array, got %T", value)
		}
		out := make([]any, len(items))
		for i, item := range items {
			v, err := FromJSON(s.Items(), item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *avro.PrimitiveSchema:
		if logical := s.Logical(); logical != nil && logical.Type() == avro.TimestampMillis {
			text, ok := value.(string)
			if !ok {
				return nil, fmt.Errorf("instant: expected an ISO 8601 string, got %T", value)
			}
			t, err := time.Parse(time.RFC3339Nano, text)
			if err != nil {
				return nil, fmt.Errorf("instant %q: %w", text, err)
			}
			return IsoMillis(t.Truncate(time.Millisecond)), nil
		}
	}
	return value, nil
}

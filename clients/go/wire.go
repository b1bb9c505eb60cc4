package partner

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
)

// SchemaSource gives the writer's schema text of a schema id.
type SchemaSource func(ctx context.Context, id int) (string, error)

// RegistrySource asks a Confluent-compatible registry: GET <url>/schemas/ids/{id}, logged in with
// userInfo ("user:password", Confluent's basic.auth.user.info: the read-only partner-<id> login that
// `corridor partners add` prints). The registry answers 401 without it.
func RegistrySource(url, userInfo string) SchemaSource {
	base := strings.TrimRight(url, "/")
	user, password, hasLogin := strings.Cut(userInfo, ":")
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, id int) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/schemas/ids/%d", base, id), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json")
		if !hasLogin {
			return "", fmt.Errorf("the schema registry login is user:password (basic.auth.user.info)")
		}
		req.SetBasicAuth(user, password)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("schema registry answered %d for schema id %d: %s", resp.StatusCode, id, body)
		}
		var answer struct {
			Schema string `json:"schema"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || answer.Schema == "" {
			return "", fmt.Errorf("schema registry gave no schema for id %d", id)
		}
		return answer.Schema, nil
	}
}

// Decoded is a record value: its writer schema id and schema, event type and plain value.
type Decoded struct {
	SchemaID int
	Schema   avro.Schema
	Type     string // full name, e.g. corridor.trade.orders.OrderPlaced
	Value    map[string]any
}

// Decoder decodes Confluent wire-format values (byte 0, 4-byte big-endian schema id, Avro binary),
// looking each schema id up once.
type Decoder struct {
	source  SchemaSource
	mu      sync.Mutex
	schemas map[int]avro.Schema
}

func NewDecoder(source SchemaSource) *Decoder {
	return &Decoder{source: source, schemas: map[int]avro.Schema{}}
}

func (d *Decoder) schema(ctx context.Context, id int) (avro.Schema, error) {
	d.mu.Lock()
	found, ok := d.schemas[id]
	d.mu.Unlock()
	if ok {
		return found, nil
	}
	text, err := d.source(ctx, id)
	if err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	d.mu.Lock()
	d.schemas[id] = parsed
	d.mu.Unlock()
	return parsed, nil
}

// Decode reads one record value.
func (d *Decoder) Decode(ctx context.Context, data []byte) (*Decoded, error) {
	if len(data) < 5 {
		return nil, fmt.Errorf("record of %d bytes is shorter than the 5-byte wire-format header", len(data))
	}
	if data[0] != 0 {
		return nil, fmt.Errorf("magic byte is %d, expected 0 (Confluent wire format)", data[0])
	}
	id := int(int32(binary.BigEndian.Uint32(data[1:5])))
	if id < 1 {
		return nil, fmt.Errorf("schema id %d is out of range", id)
	}
	schema, err := d.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	record, ok := schema.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("schema id %d does not describe a record", id)
	}
	var raw any
	if err := avro.Unmarshal(schema, data[5:], &raw); err != nil {
		return nil, fmt.Errorf("cannot decode Avro body with schema id %d: %w", id, err)
	}
	value, err := Plain(schema, raw)
	if err != nil {
		return nil, err
	}
	return &Decoded{SchemaID: id, Schema: schema, Type: record.FullName(), Value: value.(map[string]any)}, nil
}

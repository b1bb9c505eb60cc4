package partner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The shared test vectors of contracts/vectors/ (README there), passed by this client.

func vectorsDir(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		candidate := filepath.Join(dir, "contracts", "vectors")
		if _, err := os.Stat(filepath.Join(candidate, "records.json")); err == nil {
			return candidate
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("contracts/vectors/ not found above this client")
		}
		dir = up
	}
}

func load(t *testing.T, name string, into any) {
	data, err := os.ReadFile(filepath.Join(vectorsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	if err := decoder.Decode(into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func vectorDecoder(t *testing.T) *Decoder {
	var file struct {
		Schemas map[string]struct {
			Schema string `json:"schema"`
		} `json:"schemas"`
	}
	load(t, "schemas.json", &file)
	return NewDecoder(func(_ context.Context, id int) (string, error) {
		found, ok := file.Schemas[fmt.Sprint(id)]
		if !ok {
			return "", fmt.Errorf("no schema %d in the vectors", id)
		}
		return found.Schema, nil
	})
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	a, err := CanonicalJSON(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	b, err := CanonicalJSON(want)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("%s:\n got %s\nwant %s", what, a, b)
	}
}

func TestRecordsDecodeToTheirValues(t *testing.T) {
	var file struct {
		Records []struct {
			Name        string            `json:"name"`
			Type        string            `json:"type"`
			Key         string            `json:"key"`
			Headers     map[string]string `json:"headers"`
			SchemaID    json.Number       `json:"schema_id"`
			ValueHex    string            `json:"value_hex"`
			ValueBase64 string            `json:"value_base64"`
			Value       map[string]any    `json:"value"`
		} `json:"records"`
	}
	load(t, "records.json", &file)
	if len(file.Records) < 16 {
		t.Fatalf("only %d records", len(file.Records))
	}
	decoder := vectorDecoder(t)
	for _, r := range file.Records {
		data, _ := hex.DecodeString(r.ValueHex)
		if b64, _ := base64.StdEncoding.DecodeString(r.ValueBase64); !bytes.Equal(b64, data) {
			t.Fatalf("%s: value_base64 and value_hex differ", r.Name)
		}
		decoded, err := decoder.Decode(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if fmt.Sprint(decoded.SchemaID) != r.SchemaID.String() || decoded.Type != r.Type || r.Headers["ce_type"] != r.Type {
			t.Fatalf("%s: schema id %d type %s", r.Name, decoded.SchemaID, decoded.Type)
		}
		if decoded.Value["trade_id"] != r.Key {
			t.Fatalf("%s: key %s is not the trade id", r.Name, r.Key)
		}
		sameJSON(t, r.Name, decoded.Value, r.Value)
	}
}

func TestBrokenRecordsAreRefused(t *testing.T) {
	var file struct {
		Records []struct {
			ValueHex string `json:"value_hex"`
		} `json:"records"`
	}
	load(t, "records.json", &file)
	data, _ := hex.DecodeString(file.Records[0].ValueHex)
	decoder := vectorDecoder(t)
	if _, err := decoder.Decode(context.Background(), data[:len(data)-3]); err == nil {
		t.Fatal("a truncated record decoded")
	}
	bad := append([]byte{1}, data[1:]...)
	if _, err := decoder.Decode(context.Background(), bad); err == nil {
		t.Fatal("a record with magic byte 1 decoded")
	}
}

func TestCertificates(t *testing.T) {
	var file struct {
		Keys  []AuthorityKey `json:"keys"`
		Cases []struct {
			Name              string         `json:"name"`
			ValueHex          string         `json:"value_hex"`
			Value             map[string]any `json:"value"`
			CertificateStatus *string        `json:"certificate_status"`
			Canonical         string         `json:"canonical"`
			Verdict           string         `json:"verdict"`
			KeyID             *string        `json:"key_id"`
			Signer            *string        `json:"signer"`
		} `json:"cases"`
	}
	load(t, "certificates.json", &file)
	keyring := KeyringOf(file.Keys)
	decoder := vectorDecoder(t)
	seen := map[string]bool{}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	for _, c := range file.Cases {
		data, _ := hex.DecodeString(c.ValueHex)
		decoded, err := decoder.Decode(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		sameJSON(t, c.Name, decoded.Value, c.Value)
		canonical, err := CanonicalBytes(decoded.Schema, decoded.Type, decoded.Value)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if string(canonical) != c.Canonical {
			t.Fatalf("%s: canonical bytes\n got %s\nwant %s", c.Name, canonical, c.Canonical)
		}
		status := ""
		if c.CertificateStatus != nil {
			status = *c.CertificateStatus
		}
		v := VerifyCertificate(decoded.Schema, decoded.Type, decoded.Value, keyring, status)
		if v.Status != c.Verdict || str(v.KeyID) != str(c.KeyID) || str(v.Signer) != str(c.Signer) {
			t.Fatalf("%s: got %s (%s) key %s signer %s, want %s key %s signer %s", c.Name, v.Status, v.Reason,
				str(v.KeyID), str(v.Signer), c.Verdict, str(c.KeyID), str(c.Signer))
		}
		seen[v.Status] = true
	}
	if len(seen) != 6 {
		t.Fatalf("verdicts covered: %v", seen)
	}
}

func TestCertificatesThatCameAsJSON(t *testing.T) {
	var file struct {
		Cases []map[string]any `json:"cases"`
	}
	load(t, "certificates.json", &file)
	decoder := vectorDecoder(t)
	forms := 0
	for _, c := range file.Cases {
		data, _ := hex.DecodeString(c["value_hex"].(string))
		decoded, err := decoder.Decode(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{"json", "json_members_absent", "json_as_sent"} {
			doc, ok := c[form]
			if !ok {
				continue
			}
			value, err := FromJSON(decoded.Schema, doc)
			if err != nil {
				t.Fatalf("%s %s: %v", c["name"], form, err)
			}
			canonical, err := CanonicalBytes(decoded.Schema, decoded.Type, value.(map[string]any))
			if err != nil {
				t.Fatalf("%s %s: %v", c["name"], form, err)
			}
			if string(canonical) != c["canonical"] {
				t.Fatalf("%s %s:\n got %s\nwant %s", c["name"], form, canonical, c["canonical"])
			}
			forms++
		}
	}
	if forms <= len(file.Cases) {
		t.Fatalf("only %d JSON forms", forms)
	}
}

func TestJCSEscaping(t *testing.T) {
	got, err := CanonicalJSON(map[string]any{"b": "a\"\\\b\f\n\r\t\u0001\u007f\u2028é<&>", "a": []any{1, nil, true}})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"a\":[1,null,true],\"b\":\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\u007f\u2028é<&>\"}"
	if string(got) != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

type webhookFile struct {
	Cases []struct {
		Name       string   `json:"name"`
		Secrets    []string `json:"secrets"`
		Header     *string  `json:"header"`
		BodyBase64 string   `json:"body_base64"`
		Now        float64  `json:"now"`
		ToleranceS float64  `json:"tolerance_s"`
		Result     string   `json:"result"`
		Timestamp  int64    `json:"timestamp"`
	} `json:"cases"`
	Sequences []struct {
		Secrets    []string `json:"secrets"`
		ToleranceS float64  `json:"tolerance_s"`
		Steps      []struct {
			Description string  `json:"description"`
			Header      string  `json:"header"`
			BodyBase64  string  `json:"body_base64"`
			Now         float64 `json:"now"`
			Status      int     `json:"status"`
			Answer      string  `json:"answer"`
		} `json:"steps"`
	} `json:"sequences"`
}

func loadWebhooks(t *testing.T) webhookFile {
	data, err := os.ReadFile(filepath.Join(vectorsDir(t), "webhooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file webhookFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestWebhookSignatures(t *testing.T) {
	for _, c := range loadWebhooks(t).Cases {
		body, _ := base64.StdEncoding.DecodeString(c.BodyBase64)
		header := ""
		if c.Header != nil {
			header = *c.Header
		}
		got := VerifyWebhook(header, body, c.Secrets, c.Now, c.ToleranceS)
		if got.Result != c.Result || (got.Result == "ok" && got.Timestamp != c.Timestamp) {
			t.Fatalf("%s: got %s (%s), want %s", c.Name, got.Result, got.Reason, c.Result)
		}
	}
}

func TestWebhookReceiverReplayAndDuplicates(t *testing.T) {
	for _, sequence := range loadWebhooks(t).Sequences {
		receiver := NewWebhookReceiver(sequence.Secrets, sequence.ToleranceS)
		for _, step := range sequence.Steps {
			body, _ := base64.StdEncoding.DecodeString(step.BodyBase64)
			status, answer := receiver.Receive(step.Header, body, step.Now)
			if status != step.Status || answer != step.Answer {
				t.Fatalf("%s: got %d %s, want %d %s", step.Description, status, answer, step.Status, step.Answer)
			}
		}
	}
}

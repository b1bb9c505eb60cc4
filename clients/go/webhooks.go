package partner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// WebhookHeader carries `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>` (ADR 12).
const WebhookHeader = "Corridor-Signature"

// DefaultToleranceS is how far (seconds) a delivery's timestamp may be from the receiver's clock.
const DefaultToleranceS = 300

// WebhookResult is "ok", "bad_signature", "stale" or "malformed", with the timestamp when ok.
type WebhookResult struct {
	Result    string
	Timestamp int64
	Reason    string
}

func parseWebhookHeader(header string) (int64, []string, string) {
	var timestamp *int64
	var signatures []string
	for _, part := range strings.Split(header, ",") {
		name, value, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		switch name {
		case "t":
			t, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if err != nil {
				return 0, nil, fmt.Sprintf("timestamp '%s' is not an integer", value)
			}
			timestamp = &t
		case "v1":
			signatures = append(signatures, strings.ToLower(strings.TrimSpace(value)))
		}
	}
	if timestamp == nil || len(signatures) == 0 {
		return 0, nil, WebhookHeader + " needs t=<unix seconds> and v1=<hex HMAC-SHA256>"
	}
	return *timestamp, signatures, ""
}

// WebhookMAC is the hex HMAC-SHA256 of "<timestamp>." + body under secret.
func WebhookMAC(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", timestamp)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a delivery with each secret the receiver holds (several while one is changed).
func VerifyWebhook(header string, body []byte, secrets []string, now float64, toleranceS float64) WebhookResult {
	if header == "" {
		return WebhookResult{Result: "malformed", Reason: "no " + WebhookHeader + " header"}
	}
	timestamp, signatures, problem := parseWebhookHeader(header)
	if problem != "" {
		return WebhookResult{Result: "malformed", Reason: problem}
	}
	matched := false
	for _, secret := range secrets {
		expected := []byte(WebhookMAC(secret, timestamp, body))
		for _, given := range signatures {
			if hmac.Equal(expected, []byte(given)) {
				matched = true
			}
		}
	}
	if !matched {
		return WebhookResult{Result: "bad_signature", Reason: "signature does not match the body"}
	}
	if off := math.Abs(now - float64(timestamp)); off > toleranceS {
		return WebhookResult{Result: "stale", Reason: fmt.Sprintf("timestamp %d is %.0f s from now (tolerance %.0f s)", timestamp, off, toleranceS)}
	}
	return WebhookResult{Result: "ok", Timestamp: timestamp}
}

// WebhookReceiver decides like services/webhooks/receiver.py: 401 bad signature or stale, 409 a signed
// request accepted before (replay), 400 no CloudEvents id, 200 processed or duplicate (an id seen before).
type WebhookReceiver struct {
	Secrets    []string
	ToleranceS float64
	accepted   map[string]int64
	processed  map[string]bool
}

func NewWebhookReceiver(secrets []string, toleranceS float64) *WebhookReceiver {
	return &WebhookReceiver{Secrets: secrets, ToleranceS: toleranceS, accepted: map[string]int64{}, processed: map[string]bool{}}
}

// Receive answers one delivery: HTTP status and a word (processed, duplicate, replay, stale, bad_signature, bad_document).
func (r *WebhookReceiver) Receive(header string, body []byte, now float64) (int, string) {
	checked := VerifyWebhook(header, body, r.Secrets, now, r.ToleranceS)
	if checked.Result == "stale" {
		return 401, "stale"
	}
	if checked.Result != "ok" {
		return 401, "bad_signature"
	}
	var document struct {
		ID any `json:"id"`
	}
	id, ok := "", false
	if json.Unmarshal(body, &document) == nil {
		id, ok = document.ID.(string)
	}
	if !ok || id == "" {
		return 400, "bad_document"
	}
	for value, t := range r.accepted {
		if float64(t) < now-2*r.ToleranceS {
			delete(r.accepted, value)
		}
	}
	_, presented, _ := parseWebhookHeader(header)
	for _, s := range presented {
		if _, seen := r.accepted[s]; seen {
			return 409, "replay"
		}
	}
	for _, s := range presented {
		r.accepted[s] = checked.Timestamp
	}
	if r.processed[id] {
		return 200, "duplicate"
	}
	r.processed[id] = true
	return 200, "processed"
}

package partner

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/hamba/avro/v2"
)

// SignedTypes are the event types that carry an issuer's signature (ADR 13).
var SignedTypes = map[string]bool{
	"corridor.trade.certificates.CertificateIssued":  true,
	"corridor.trade.certificates.CertificateAmended": true,
}

// AuthorityKey is one registered key, as `corridor certificates keys list --json` prints it.
type AuthorityKey struct {
	PartnerID string  `json:"partner_id"`
	KeyID     string  `json:"key_id"`
	PublicKey string  `json:"public_key"` // raw 32-byte key, standard base64
	RevokedAt *string `json:"revoked_at"`
}

// Keyring holds the registered keys by key id.
type Keyring map[string]AuthorityKey

// LoadKeyring reads the JSON list `corridor certificates keys list --json` prints.
func LoadKeyring(path string) (Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []AuthorityKey
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return KeyringOf(keys), nil
}

func KeyringOf(keys []AuthorityKey) Keyring {
	ring := Keyring{}
	for _, k := range keys {
		ring[k.KeyID] = k
	}
	return ring
}

// Verdict is the outcome of checking a certificate's signature.
type Verdict struct {
	Status            string // valid, tampered, unknown_signer, revoked, superseded, unsigned
	Reason            string
	CertificateNumber *string
	KeyID             *string
	Signer            *string
}

// CanonicalBytes are the UTF-8 bytes an issuer signs: JCS of {"data": <fields but signature>, "type": …}.
func CanonicalBytes(schema avro.Schema, eventType string, value map[string]any) ([]byte, error) {
	copied := make(map[string]any, len(value))
	for k, v := range value {
		copied[k] = v
	}
	copied["signature"] = nil
	data, err := Canonical(schema, copied)
	if err != nil {
		return nil, err
	}
	return CanonicalJSON(map[string]any{"type": eventType, "data": data})
}

// VerifyCertificate checks a certificate event (plain form) in the order of the Python code
// (services/core/signatures.py verify_event): unsigned → unknown_signer → tampered → revoked →
// the ledger's status of the certificate (REVOKED / SUPERSEDED, "" when unknown) → valid.
func VerifyCertificate(schema avro.Schema, eventType string, value map[string]any, keyring Keyring, certificateStatus string) Verdict {
	var number *string
	if n, ok := value["certificate_number"].(string); ok {
		number = &n
	}
	signature, _ := value["signature"].(map[string]any)
	if !SignedTypes[eventType] || signature == nil {
		short := eventType[strings.LastIndex(eventType, ".")+1:]
		return Verdict{Status: "unsigned", Reason: short + " carries no signature", CertificateNumber: number}
	}
	keyID, _ := signature["key_id"].(string)
	algorithm, _ := signature["algorithm"].(string)
	issuer, _ := value["issuer"].(map[string]any)
	issuerID, _ := issuer["party_id"].(string)
	key, found := keyring[keyID]
	verdict := func(status, reason string) Verdict {
		v := Verdict{Status: status, Reason: reason, CertificateNumber: number, KeyID: &keyID}
		if found {
			signer := key.PartnerID
			v.Signer = &signer
		}
		return v
	}
	if !found {
		return verdict("unknown_signer", fmt.Sprintf("no registered key '%s'", keyID))
	}
	if key.PartnerID != issuerID {
		return verdict("unknown_signer", fmt.Sprintf("key '%s' belongs to %s, not to the issuer %s", keyID, key.PartnerID, issuerID))
	}
	if algorithm != "Ed25519" {
		return verdict("tampered", fmt.Sprintf("algorithm '%s' is not Ed25519", algorithm))
	}
	encoded, _ := signature["value"].(string)
	raw, err := base64.StdEncoding.DecodeString(encoded)
	public, keyErr := base64.StdEncoding.DecodeString(key.PublicKey)
	message, canonErr := CanonicalBytes(schema, eventType, value)
	if err != nil || keyErr != nil || canonErr != nil || len(raw) != ed25519.SignatureSize ||
		len(public) != ed25519.PublicKeySize || !ed25519.Verify(public, message, raw) {
		return verdict("tampered", fmt.Sprintf("the signature by '%s' does not match the certificate's content", keyID))
	}
	if key.RevokedAt != nil {
		return verdict("revoked", fmt.Sprintf("the signing key '%s' was revoked at %s", keyID, *key.RevokedAt))
	}
	switch strings.ToUpper(certificateStatus) {
	case "REVOKED":
		return verdict("revoked", "signature valid, but the certificate is revoked")
	case "SUPERSEDED":
		return verdict("superseded", "signature valid, but the certificate is superseded")
	}
	return verdict("valid", fmt.Sprintf("signed by %s with key '%s'", issuerID, keyID))
}

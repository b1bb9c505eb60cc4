// Command corridor-example is the runnable example of docs/partners/go.md: it reads your partner topic,
// decodes every record through the registry, verifies certificates offline with the issuers' keys,
// and prints one JSON line per record (the format every Corridor example client prints).
//
// Environment: PARTNER_ID, PARTNER_PASSWORD, PARTNER_BOOTSTRAP, SCHEMA_REGISTRY_URL,
// SCHEMA_REGISTRY_USER_INFO (the partner's registry login), KEYRING_FILE
// (`corridor certificates keys list --json`); optional PARTNER_GROUP (default <id>.go-example),
// PARTNER_CA_FILE (the CA certificate `partners add` printed; else the system's roots), MAX_RECORDS,
// IDLE_TIMEOUT_S (default 20). The listener is always reached over TLS with the host name verified.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	partner "corridor.local/partner"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	if fallback == "" {
		fmt.Fprintf(os.Stderr, "set %s\n", name)
		os.Exit(2)
	}
	return fallback
}

func describe(r partner.Record, keyring partner.Keyring) (map[string]any, error) {
	canonical, err := partner.CanonicalJSON(r.Value)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(canonical)
	var certificate any
	if partner.SignedTypes[r.Type] {
		verdict := partner.VerifyCertificate(r.Schema, r.Type, r.Value, keyring, "")
		altered := map[string]any{}
		for k, v := range r.Value {
			altered[k] = v
		}
		altered["certificate_number"] = fmt.Sprint(r.Value["certificate_number"]) + "-X"
		tampered := partner.VerifyCertificate(r.Schema, r.Type, altered, keyring, "")
		certificate = map[string]any{
			"number": verdict.CertificateNumber, "verdict": verdict.Status, "key_id": verdict.KeyID,
			"signer": verdict.Signer, "tampered_copy_verdict": tampered.Status,
		}
	}
	header := func(name string) any {
		if v, ok := r.Headers[name]; ok {
			return v
		}
		return nil
	}
	return map[string]any{
		"partition": r.Partition, "offset": r.Offset, "key": r.Key, "ce_id": header("ce_id"),
		"ce_type": header("ce_type"), "type": r.Type, "trade_id": r.Value["trade_id"],
		"sender": r.Value["sender"], "occurred_at": r.Value["occurred_at"],
		"value_sha256": hex.EncodeToString(digest[:]), "certificate": certificate,
	}, nil
}

func main() {
	partnerID := env("PARTNER_ID", "")
	keyring, err := partner.LoadKeyring(env("KEYRING_FILE", ""))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg := partner.Config{
		Bootstrap:   strings.Split(env("PARTNER_BOOTSTRAP", ""), ","),
		PartnerID:   partnerID,
		Password:    env("PARTNER_PASSWORD", ""),
		Group:       env("PARTNER_GROUP", partnerID+".go-example"),
		RegistryURL: env("SCHEMA_REGISTRY_URL", ""),
		// the partner's registry login (read only), as `corridor partners add` printed it
		RegistryUserInfo: env("SCHEMA_REGISTRY_USER_INFO", ""),
	}
	// franz-go sets ServerName to the host it dials, so Go verifies the certificate names it
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := os.Getenv("PARTNER_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg.TLS.RootCAs = x509.NewCertPool()
		if !cfg.TLS.RootCAs.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "PARTNER_CA_FILE: no PEM certificate in", ca)
			os.Exit(1)
		}
	}
	maxRecords, _ := strconv.Atoi(env("MAX_RECORDS", "0"))
	idle, _ := strconv.ParseFloat(env("IDLE_TIMEOUT_S", "20"), 64)
	consumer, err := partner.NewConsumer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer consumer.Close()
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	seen := 0
	for maxRecords == 0 || seen < maxRecords {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(idle*float64(time.Second)))
		n, err := consumer.Poll(ctx, func(r partner.Record) error {
			line, err := describe(r, keyring)
			if err != nil {
				return err
			}
			return out.Encode(line)
		})
		cancel()
		seen += n
		if errors.Is(err, context.DeadlineExceeded) && n == 0 {
			break // idle: nothing came for IDLE_TIMEOUT_S
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

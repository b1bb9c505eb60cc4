package partner

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config of a partner's consumer: SCRAM-SHA-512 over TLS on the partner listener (SASL_SSL; TLS nil
// means the system's roots, set RootCAs to the CA certificate `partners add` printed), the topic
// partner.<id>.v1, a consumer group <id>.<name> (the broker refuses any other), read_committed.
type Config struct {
	Bootstrap   []string
	PartnerID   string
	Username    string // defaults to the partner id
	Password    string
	Group       string
	RegistryURL string
	// RegistryUserInfo is the partner's registry login, "partner-<id>:<password>" (partners add).
	RegistryUserInfo string
	TLS              *tls.Config
	FromLatest       bool // a new group starts at the end instead of the whole history
}

// Record is one decoded record of the partner topic.
type Record struct {
	*Decoded
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Headers   map[string]string
}

// PartnerTopic is the topic the relay copies a partner's trades to.
func PartnerTopic(partnerID string) string { return "partner." + partnerID + ".v1" }

// Consumer reads a partner topic; offsets are committed only after the handler returned (at least
// once: handlers deduplicate on the CloudEvents id, header ce_id).
type Consumer struct {
	client  *kgo.Client
	decoder *Decoder
}

func NewConsumer(cfg Config) (*Consumer, error) {
	prefix := cfg.PartnerID + "."
	if !strings.HasPrefix(cfg.Group, prefix) || cfg.Group == prefix {
		return nil, fmt.Errorf("consumer group '%s': the broker lets partner '%s' use only groups named %s<something>", cfg.Group, cfg.PartnerID, prefix)
	}
	user := cfg.Username
	if user == "" {
		user = cfg.PartnerID
	}
	start := kgo.NewOffset().AtStart()
	if cfg.FromLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.SASL(scram.Auth{User: user, Pass: cfg.Password}.AsSha512Mechanism()),
		kgo.ClientID("corridor-go-" + cfg.Group),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(PartnerTopic(cfg.PartnerID)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
	}
	tlsConfig := cfg.TLS
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// never plaintext: franz-go fills in ServerName from the address it dials, so the name is verified
	opts = append(opts, kgo.DialTLSConfig(tlsConfig))
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &Consumer{client: client, decoder: NewDecoder(RegistrySource(cfg.RegistryURL, cfg.RegistryUserInfo))}, nil
}

// Poll hands each record of one fetch to handle, then commits their offsets. A handler error stops the
// batch: nothing after the failed record is committed.
func (c *Consumer) Poll(ctx context.Context, handle func(Record) error) (int, error) {
	fetches := c.client.PollFetches(ctx)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var firstErr error
	fetches.EachError(func(topic string, partition int32, err error) {
		if firstErr == nil {
			firstErr = fmt.Errorf("%s[%d]: %w", topic, partition, err)
		}
	})
	if firstErr != nil {
		return 0, firstErr
	}
	handled := 0
	var done []*kgo.Record
	commit := func() error {
		if len(done) == 0 {
			return nil
		}
		return c.client.CommitRecords(ctx, done...)
	}
	for _, r := range fetches.Records() {
		decoded, err := c.decoder.Decode(ctx, r.Value)
		if err != nil {
			_ = commit()
			return handled, fmt.Errorf("%s:%d:%d cannot be decoded: %w", r.Topic, r.Partition, r.Offset, err)
		}
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if err := handle(Record{Decoded: decoded, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Headers: headers}); err != nil {
			_ = commit()
			return handled, err
		}
		done = append(done, r)
		handled++
	}
	return handled, commit()
}

// Close leaves the consumer group.
func (c *Consumer) Close() { c.client.Close() }

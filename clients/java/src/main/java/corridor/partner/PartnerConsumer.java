package corridor.partner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a partner topic with Apache Kafka's consumer: SCRAM-SHA-512 over TLS on the partner listener
 * (SASL_SSL, the broker certificate verified against {@code caFile}, a PEM file, else the JVM's trust
 * store, and its host name checked), {@code partner.<id>.v1}, a consumer
 * group {@code <id>.<name>} (the broker refuses any other), read_committed (the relay writes partner
 * topics in Kafka transactions), offsets committed only after the handler returned (at least once:
 * deduplicate on the CloudEvents id, header {@code ce_id}).
 */
public final class PartnerConsumer implements AutoCloseable {
  /** One decoded record of the partner topic. */
  public record Record(String topic, int partition, long offset, String key, Map<String, String> headers,
                       Wire.Decoded decoded) {}

  @FunctionalInterface
  public interface Handler {
    void handle(Record record) throws Exception;
  }

  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Wire.Decoder decoder;

  public static String partnerTopic(String partnerId) {
    return "partner." + partnerId + ".v1";
  }

  /** The consumer settings of a partner (also what any other Kafka client needs). */
  public static Properties config(String bootstrap, String partnerId, String password, String group,
                                  String caFile) {
    String prefix = partnerId + ".";
    if (!group.startsWith(prefix) || group.equals(prefix)) {
      throw new IllegalArgumentException("consumer group '" + group + "': the broker lets partner '" + partnerId
          + "' use only groups named " + prefix + "<something>");
    }
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "corridor-java-" + group);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    // SCRAM over TLS always; the broker certificate is verified and its host name checked (https)
    p.put("security.protocol", "SASL_SSL");
    p.put("ssl.endpoint.identification.algorithm", "https");
    p.put("sasl.mechanism", "SCRAM-SHA-512");
    p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + jaasEscape(partnerId) + "\" password=\"" + jaasEscape(password) + "\";");
    if (caFile != null) {
      // the CA certificate `corridor partners add` printed, read as a PEM trust store (no keytool)
      p.put("ssl.truststore.type", "PEM");
      p.put("ssl.truststore.location", caFile);
    }
    return p;
  }

  private static String jaasEscape(String value) {
    return value.replace("\\", "\\\\").replace("\"", "\\\"");
  }

  /** {@code registryUserInfo}: the partner's registry login ({@code partner-<id>:<password>}). */
  public PartnerConsumer(Properties config, String partnerId, String registryUrl, String registryUserInfo) {
    this.decoder = new Wire.Decoder(Wire.registry(registryUrl, registryUserInfo));
    this.consumer = new KafkaConsumer<>(config);
    consumer.subscribe(List.of(partnerTopic(partnerId)));
  }

  /** Hands each record of one poll to {@code handler}, committing each partition's handled offsets. */
  public int poll(Duration timeout, Handler handler) throws Exception {
    ConsumerRecords<byte[], byte[]> records = consumer.poll(timeout);
    Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
    int handled = 0;
    try {
      for (ConsumerRecord<byte[], byte[]> r : records) {
        Wire.Decoded decoded;
        try {
          decoded = decoder.decode(r.value() == null ? new byte[0] : r.value());
        } catch (IOException e) {
          throw new IOException(r.topic() + ":" + r.partition() + ":" + r.offset() + " cannot be decoded: "
              + e.getMessage(), e);
        }
        Map<String, String> headers = new HashMap<>();
        for (Header h : r.headers()) {
          headers.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
        }
        String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
        handler.handle(new Record(r.topic(), r.partition(), r.offset(), key, headers, decoded));
        done.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        handled++;
      }
    } finally {
      if (!done.isEmpty()) {
        consumer.commitSync(done);
      }
    }
    return handled;
  }

  @Override
  public void close() {
    consumer.close();
  }
}

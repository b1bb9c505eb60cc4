package corridor.partner;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The runnable example of docs/partners/java.md: reads your partner topic, decodes every record through
 * the registry, verifies certificates offline with the issuers' keys, and prints one JSON line per
 * record (the format every Corridor example client prints).
 *
 * <p>Environment: PARTNER_ID, PARTNER_PASSWORD, PARTNER_BOOTSTRAP, SCHEMA_REGISTRY_URL,
 * SCHEMA_REGISTRY_USER_INFO (the partner's registry login), KEYRING_FILE
 * ({@code corridor certificates keys list --json}); optional PARTNER_GROUP (default &lt;id&gt;.java-example),
 * PARTNER_CA_FILE (the CA certificate `partners add` printed; else the JVM's trust store), MAX_RECORDS,
 * IDLE_TIMEOUT_S (20).
 */
public final class Example {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Example() {}

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    if (value != null && !value.isEmpty()) {
      return value;
    }
    if (fallback == null) {
      throw new IllegalArgumentException("set " + name);
    }
    return fallback;
  }

  static Map<String, Object> describe(PartnerConsumer.Record record, Map<String, Certificates.AuthorityKey> keyring)
      throws Exception {
    Wire.Decoded d = record.decoded();
    Map<String, Object> certificate = null;
    if (Certificates.SIGNED_TYPES.contains(d.type())) {
      Certificates.Verdict verdict = Certificates.verify(d.schema(), d.type(), d.value(), keyring, null);
      Map<String, Object> altered = new LinkedHashMap<>(d.value());
      altered.put("certificate_number", d.value().get("certificate_number") + "-X");
      Certificates.Verdict tampered = Certificates.verify(d.schema(), d.type(), altered, keyring, null);
      certificate = new LinkedHashMap<>();
      certificate.put("number", verdict.certificateNumber());
      certificate.put("verdict", verdict.status());
      certificate.put("key_id", verdict.keyId());
      certificate.put("signer", verdict.signer());
      certificate.put("tampered_copy_verdict", tampered.status());
    }
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(Jcs.bytes(d.value()));
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("partition", record.partition());
    line.put("offset", record.offset());
    line.put("key", record.key());
    line.put("ce_id", record.headers().get("ce_id"));
    line.put("ce_type", record.headers().get("ce_type"));
    line.put("type", d.type());
    line.put("trade_id", d.value().get("trade_id"));
    line.put("sender", d.value().get("sender"));
    line.put("occurred_at", d.value().get("occurred_at"));
    line.put("value_sha256", HexFormat.of().formatHex(digest));
    line.put("certificate", certificate);
    return line;
  }

  public static void main(String[] args) throws Exception {
    String partnerId = env("PARTNER_ID", null);
    Map<String, Certificates.AuthorityKey> keyring =
        Certificates.keyring(JSON.readValue(new File(env("KEYRING_FILE", null)), List.class));
    var config = PartnerConsumer.config(env("PARTNER_BOOTSTRAP", null), partnerId, env("PARTNER_PASSWORD", null),
        env("PARTNER_GROUP", partnerId + ".java-example"), System.getenv("PARTNER_CA_FILE"));
    int maxRecords = Integer.parseInt(env("MAX_RECORDS", "0"));
    long idleMs = (long) (Double.parseDouble(env("IDLE_TIMEOUT_S", "20")) * 1000);
    try (PartnerConsumer consumer = new PartnerConsumer(config, partnerId, env("SCHEMA_REGISTRY_URL", null),
        env("SCHEMA_REGISTRY_USER_INFO", null))) {
      int seen = 0;
      long last = System.currentTimeMillis();
      while ((maxRecords == 0 || seen < maxRecords) && System.currentTimeMillis() - last < idleMs) {
        int n = consumer.poll(Duration.ofMillis(500), record -> {
          System.out.write((JSON.writeValueAsString(describe(record, keyring)) + "\n").getBytes(StandardCharsets.UTF_8));
          System.out.flush();
        });
        if (n > 0) {
          seen += n;
          last = System.currentTimeMillis();
        }
      }
    }
  }
}

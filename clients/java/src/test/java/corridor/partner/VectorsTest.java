package corridor.partner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The shared test vectors of contracts/vectors/ (README there), passed by this client. */
class VectorsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Path vectors() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null) {
      Path candidate = dir.resolve("contracts").resolve("vectors");
      if (Files.exists(candidate.resolve("records.json"))) {
        return candidate;
      }
      dir = dir.getParent();
    }
    throw new IllegalStateException("contracts/vectors/ not found above this client");
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> load(String name) throws IOException {
    return JSON.readValue(vectors().resolve(name).toFile(), Map.class);
  }

  @SuppressWarnings("unchecked")
  private static Wire.Decoder decoder() throws IOException {
    Map<String, Map<String, Object>> schemas = (Map<String, Map<String, Object>>) load("schemas.json").get("schemas");
    return new Wire.Decoder(id -> {
      Map<String, Object> found = schemas.get(String.valueOf(id));
      if (found == null) {
        throw new IOException("no schema " + id + " in the vectors");
      }
      return (String) found.get("schema");
    });
  }

  private static byte[] hex(Object text) {
    return HexFormat.of().parseHex((String) text);
  }

  @Test
  @SuppressWarnings("unchecked")
  void everyRecordDecodesToItsValue() throws IOException {
    List<Map<String, Object>> records = (List<Map<String, Object>>) load("records.json").get("records");
    assertTrue(records.size() >= 16);
    Wire.Decoder decoder = decoder();
    for (Map<String, Object> r : records) {
      byte[] value = hex(r.get("value_hex"));
      assertArrayEquals(Base64.getDecoder().decode((String) r.get("value_base64")), value);
      Wire.Decoded d = decoder.decode(value);
      assertEquals(((Number) r.get("schema_id")).intValue(), d.schemaId(), (String) r.get("name"));
      assertEquals(r.get("type"), d.type());
      assertEquals(r.get("type"), ((Map<String, Object>) r.get("headers")).get("ce_type"));
      assertEquals(r.get("key"), d.value().get("trade_id"));
      assertEquals(Jcs.string(r.get("value")), Jcs.string(d.value()), (String) r.get("name"));
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void brokenRecordsAreRefused() throws IOException {
    List<Map<String, Object>> records = (List<Map<String, Object>>) load("records.json").get("records");
    byte[] value = hex(records.get(0).get("value_hex"));
    Wire.Decoder decoder = decoder();
    assertThrows(IOException.class, () -> decoder.decode(java.util.Arrays.copyOf(value, value.length - 3)));
    byte[] wrongMagic = value.clone();
    wrongMagic[0] = 1;
    assertThrows(IOException.class, () -> decoder.decode(wrongMagic));
  }

  @Test
  @SuppressWarnings("unchecked")
  void certificatesCanonicalBytesAndVerdicts() throws IOException {
    Map<String, Object> file = load("certificates.json");
    Map<String, Certificates.AuthorityKey> keyring = Certificates.keyring((List<?>) file.get("keys"));
    Wire.Decoder decoder = decoder();
    Set<String> verdicts = new TreeSet<>();
    for (Map<String, Object> c : (List<Map<String, Object>>) file.get("cases")) {
      String name = (String) c.get("name");
      Wire.Decoded d = decoder.decode(hex(c.get("value_hex")));
      assertEquals(Jcs.string(c.get("value")), Jcs.string(d.value()), name);
      byte[] canonical = Certificates.canonicalBytes(d.schema(), d.type(), d.value());
      assertEquals(c.get("canonical"), new String(canonical, StandardCharsets.UTF_8), name);
      Certificates.Verdict v = Certificates.verify(d.schema(), d.type(), d.value(), keyring,
          (String) c.get("certificate_status"));
      assertEquals(c.get("verdict"), v.status(), name + ": " + v.reason());
      assertEquals(c.get("key_id"), v.keyId(), name);
      assertEquals(c.get("signer"), v.signer(), name);
      verdicts.add(v.status());
    }
    assertEquals(Set.of("valid", "tampered", "unknown_signer", "revoked", "superseded", "unsigned"), verdicts);
  }

  @Test
  @SuppressWarnings("unchecked")
  void certificatesThatCameAsJsonGiveTheSameCanonicalBytes() throws IOException {
    List<Map<String, Object>> cases = (List<Map<String, Object>>) load("certificates.json").get("cases");
    Wire.Decoder decoder = decoder();
    int forms = 0;
    for (Map<String, Object> c : cases) {
      Wire.Decoded d = decoder.decode(hex(c.get("value_hex")));
      for (String form : List.of("json", "json_members_absent", "json_as_sent")) {
        if (!c.containsKey(form)) {
          continue;
        }
        Map<String, Object> value = (Map<String, Object>) Plain.fromJson(d.schema(), c.get(form));
        assertEquals(c.get("canonical"),
            new String(Certificates.canonicalBytes(d.schema(), d.type(), value), StandardCharsets.UTF_8),
            c.get("name") + " " + form);
        forms++;
      }
    }
    assertTrue(forms > cases.size());
  }

  @Test
  void jcsEscaping() {
    Map<String, Object> value = new LinkedHashMap<>();
    value.put("b", "a\"\\\b\f\n\r\t\u0001\u007f\u2028é😀");
    value.put("a", java.util.Arrays.asList(1, null, true));
    assertEquals("{\"a\":[1,null,true],\"b\":\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\u007f\u2028é😀\"}", Jcs.string(value));
  }

  @Test
  @SuppressWarnings("unchecked")
  void webhookSignatures() throws IOException {
    for (Map<String, Object> c : (List<Map<String, Object>>) load("webhooks.json").get("cases")) {
      Webhooks.Result got = Webhooks.verify((String) c.get("header"),
          Base64.getDecoder().decode((String) c.get("body_base64")), (List<String>) c.get("secrets"),
          ((Number) c.get("now")).doubleValue(), ((Number) c.get("tolerance_s")).doubleValue());
      assertEquals(c.get("result"), got.result(), c.get("name") + ": " + got.reason());
      if (got.result().equals("ok")) {
        assertEquals(((Number) c.get("timestamp")).longValue(), got.timestamp());
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void webhookReceiverReplayAndDuplicates() throws IOException {
    for (Map<String, Object> s : (List<Map<String, Object>>) load("webhooks.json").get("sequences")) {
      Webhooks.Receiver receiver = new Webhooks.Receiver((List<String>) s.get("secrets"),
          ((Number) s.get("tolerance_s")).doubleValue());
      for (Map<String, Object> step : (List<Map<String, Object>>) s.get("steps")) {
        Map.Entry<Integer, String> got = receiver.receive((String) step.get("header"),
            Base64.getDecoder().decode((String) step.get("body_base64")), ((Number) step.get("now")).doubleValue());
        assertEquals(Map.entry(((Number) step.get("status")).intValue(), (String) step.get("answer")), got,
            (String) step.get("description"));
      }
    }
  }
}

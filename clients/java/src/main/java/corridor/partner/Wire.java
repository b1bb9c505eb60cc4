package corridor.partner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * The Confluent wire format (byte 0, 4-byte big-endian schema id, Avro binary) and the schema registry's
 * REST API: the writer's schema of an id comes from {@code GET /schemas/ids/{id}}, once per id.
 */
public final class Wire {
  private Wire() {}

  /** Gives the schema text of a schema id. */
  @FunctionalInterface
  public interface SchemaSource {
    String schema(int id) throws IOException;
  }

  /** A decoded record value: writer schema id and schema, event type (record full name), plain value. */
  public record Decoded(int schemaId, Schema schema, String type, Map<String, Object> value) {}

  /**
   * The registry at {@code url}, logged in with {@code userInfo} ({@code user:password}, Confluent's
   * basic.auth.user.info: the read-only {@code partner-<id>} login {@code corridor partners add} prints).
   * The registry answers 401 without it.
   */
  public static SchemaSource registry(String url, String userInfo) {
    String base = url.replaceAll("/+$", "");
    if (userInfo == null || !userInfo.contains(":")) {
      throw new IllegalArgumentException("the schema registry login is user:password (basic.auth.user.info)");
    }
    String authorization = "Basic " + java.util.Base64.getEncoder()
        .encodeToString(userInfo.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    ObjectMapper json = new ObjectMapper();
    return id -> {
      HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/schemas/ids/" + id))
          .header("Accept", "application/vnd.schemaregistry.v1+json").header("Authorization", authorization)
          .timeout(Duration.ofSeconds(10)).GET().build();
      HttpResponse<String> response;
      try {
        response = http.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      if (response.statusCode() != 200) {
        throw new IOException("schema registry answered " + response.statusCode() + " for schema id " + id + ": "
            + response.body());
      }
      JsonNode schema = json.readTree(response.body()).get("schema");
      if (schema == null || !schema.isTextual()) {
        throw new IOException("schema registry gave no schema for id " + id);
      }
      return schema.asText();
    };
  }

  /** Decodes record values, looking each writer schema up once. */
  public static final class Decoder {
    private final SchemaSource source;
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();

    public Decoder(SchemaSource source) {
      this.source = source;
    }

    private Schema schema(int id) throws IOException {
      Schema found = schemas.get(id);
      if (found == null) {
        found = new Schema.Parser().parse(source.schema(id));
        schemas.put(id, found);
      }
      return found;
    }

    @SuppressWarnings("unchecked")
    public Decoded decode(byte[] data) throws IOException {
      if (data.length < 5) {
        throw new IOException("record of " + data.length + " bytes is shorter than the 5-byte wire-format header");
      }
      if (data[0] != 0) {
        throw new IOException("magic byte is " + data[0] + ", expected 0 (Confluent wire format)");
      }
      int id = ByteBuffer.wrap(data, 1, 4).getInt();
      if (id < 1) {
        throw new IOException("schema id " + id + " is out of range");
      }
      Schema schema = schema(id);
      if (schema.getType() != Schema.Type.RECORD) {
        throw new IOException("schema id " + id + " does not describe a record");
      }
      BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(data, 5, data.length - 5, null);
      GenericRecord record;
      try {
        record = new GenericDatumReader<GenericRecord>(schema).read(null, decoder);
      } catch (RuntimeException e) {
        throw new IOException("cannot decode Avro body with schema id " + id + ": " + e, e);
      }
      if (!decoder.isEnd()) {
        throw new IOException("bytes left over after the Avro body with schema id " + id);
      }
      return new Decoded(id, schema, schema.getFullName(), (Map<String, Object>) Plain.of(schema, record));
    }
  }
}

package corridor.partner;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;

/**
 * Avro values in the "plain" form of contracts/vectors/README.md, by walking the writer's schema beside
 * a value Apache Avro's generic reader decoded: decimals as strings with the schema's scale, instants as
 * UTC "…T…​.mmmZ", dates "YYYY-MM-DD", uuids and enums as strings, bytes as base64, unions unwrapped,
 * nulls kept. Records become {@code LinkedHashMap<String, Object>}, arrays {@code List<Object>}.
 *
 * <p>{@link #canonical} turns a plain value into what an issuer signs (docs/adr/0013-signed-certificates.md):
 * nulls left out at every depth, decimals without trailing fractional zeros.
 */
public final class Plain {
  private static final DateTimeFormatter MILLIS =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final Pattern PLAIN_DECIMAL = Pattern.compile("-?\\d+(\\.\\d+)?");

  private Plain() {}

  public static Object of(Schema schema, Object value) {
    switch (schema.getType()) {
      case NULL:
        return null;
      case RECORD: {
        GenericRecord record = (GenericRecord) value;
        Map<String, Object> out = new LinkedHashMap<>();
        for (Schema.Field field : schema.getFields()) {
          out.put(field.name(), of(field.schema(), record.get(field.pos())));
        }
        return out;
      }
      case UNION:
        return value == null ? null : of(onlyBranch(schema), value);
      case ARRAY: {
        List<Object> out = new ArrayList<>();
        for (Object item : (Collection<?>) value) {
          out.add(of(schema.getElementType(), item));
        }
        return out;
      }
      case MAP: {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
          out.put(e.getKey().toString(), of(schema.getValueType(), e.getValue()));
        }
        return out;
      }
      case ENUM:
      case STRING:
        return value.toString();
      case INT:
        return schema.getLogicalType() instanceof LogicalTypes.Date
            ? LocalDate.ofEpochDay((Integer) value).toString()
            : value;
      case LONG:
        return schema.getLogicalType() instanceof LogicalTypes.TimestampMillis
            ? isoMillis((Long) value)
            : value;
      case BYTES:
      case FIXED: {
        byte[] bytes = bytesOf(value);
        LogicalType logical = schema.getLogicalType();
        if (logical instanceof LogicalTypes.Decimal) {
          int scale = ((LogicalTypes.Decimal) logical).getScale();
          return new BigDecimal(new BigInteger(bytes.length == 0 ? new byte[] {0} : bytes), scale).toPlainString();
        }
        return Base64.getEncoder().encodeToString(bytes);
      }
      default:
        return value; // boolean, float, double
    }
  }

  private static byte[] bytesOf(Object value) {
    if (value instanceof GenericFixed) {
      return ((GenericFixed) value).bytes();
    }
    ByteBuffer buffer = ((ByteBuffer) value).duplicate();
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return bytes;
  }

  public static String isoMillis(long epochMillis) {
    return MILLIS.format(Instant.ofEpochMilli(epochMillis));
  }

  static Schema onlyBranch(Schema union) {
    Schema found = null;
    for (Schema branch : union.getTypes()) {
      if (branch.getType() == Schema.Type.NULL) {
        continue;
      }
      if (found != null) {
        throw new IllegalArgumentException("only unions of null and one type are supported");
      }
      found = branch;
    }
    return found;
  }

  /**
   * The plain form of an event that came as JSON (a webhook's data, the gateway's body), parsed into maps
   * and lists (e.g. by Jackson): members left out become null, instants written with an offset
   * ({@code 2026-03-01T15:00:00+05:00}) become UTC milliseconds; decimals stay the strings they are.
   */
  public static Object fromJson(Schema schema, Object value) {
    if (value == null) {
      return null;
    }
    switch (schema.getType()) {
      case UNION:
        return fromJson(onlyBranch(schema), value);
      case RECORD: {
        Map<?, ?> record = (Map<?, ?>) value;
        Map<String, Object> out = new LinkedHashMap<>();
        for (Schema.Field field : schema.getFields()) {
          out.put(field.name(), fromJson(field.schema(), record.get(field.name())));
        }
        return out;
      }
      case ARRAY: {
        List<Object> out = new ArrayList<>();
        for (Object item : (Collection<?>) value) {
          out.add(fromJson(schema.getElementType(), item));
        }
        return out;
      }
      default:
        if (schema.getLogicalType() instanceof LogicalTypes.TimestampMillis && value instanceof String text) {
          return isoMillis(java.time.OffsetDateTime.parse(text).toInstant().toEpochMilli());
        }
        return value;
    }
  }

  /** What is signed of a plain value: null members left out, decimals normalised. */
  public static Object canonical(Schema schema, Object value) {
    if (value == null) {
      return null;
    }
    switch (schema.getType()) {
      case UNION:
        return canonical(onlyBranch(schema), value);
      case RECORD: {
        Map<?, ?> record = (Map<?, ?>) value;
        Map<String, Object> out = new LinkedHashMap<>();
        for (Schema.Field field : schema.getFields()) {
          Object member = record.get(field.name());
          if (member != null) {
            out.put(field.name(), canonical(field.schema(), member));
          }
        }
        return out;
      }
      case ARRAY: {
        List<Object> out = new ArrayList<>();
        for (Object item : (Collection<?>) value) {
          out.add(canonical(schema.getElementType(), item));
        }
        return out;
      }
      default:
        if (schema.getLogicalType() instanceof LogicalTypes.Decimal) {
          return normaliseDecimal(value.toString());
        }
        return value;
    }
  }

  /** Plain notation without trailing fractional zeros or trailing point; zero is "0". */
  public static String normaliseDecimal(String text) {
    if (!PLAIN_DECIMAL.matcher(text).matches()) {
      throw new IllegalArgumentException("decimal \"" + text + "\" is not in plain notation");
    }
    BigDecimal value = new BigDecimal(text);
    if (value.signum() == 0) {
      return "0";
    }
    return value.stripTrailingZeros().toPlainString();
  }
}

package corridor.partner;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values Corridor signs: members sorted by name in UTF-16
 * code units (what {@link String#compareTo} compares), no whitespace, strings escaped only where JCS says
 * ({@code "}, {@code \}, control characters), integers only (decimals and instants are strings already).
 */
public final class Jcs {
  private static final long MAX_EXACT = (1L << 53) - 1;

  private Jcs() {}

  public static byte[] bytes(Object value) {
    return string(value).getBytes(StandardCharsets.UTF_8);
  }

  public static String string(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value);
    return out.toString();
  }

  private static void write(StringBuilder out, Object value) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof CharSequence) {
      writeString(out, value.toString());
    } else if (value instanceof Integer || value instanceof Long || value instanceof Short) {
      long n = ((Number) value).longValue();
      if (Math.abs(n) > MAX_EXACT) {
        throw new IllegalArgumentException("integer " + n + " is beyond what JSON represents exactly");
      }
      out.append(n);
    } else if (value instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) value;
      List<String> keys = new ArrayList<>();
      for (Object k : map.keySet()) {
        keys.add(k.toString());
      }
      keys.sort(null);
      out.append('{');
      for (int i = 0; i < keys.size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        writeString(out, keys.get(i));
        out.append(':');
        write(out, map.get(keys.get(i)));
      }
      out.append('}');
    } else if (value instanceof Collection) {
      out.append('[');
      boolean first = true;
      for (Object item : (Collection<?>) value) {
        if (!first) {
          out.append(',');
        }
        first = false;
        write(out, item);
      }
      out.append(']');
    } else {
      throw new IllegalArgumentException(value.getClass().getSimpleName() + " values have no canonical form");
    }
  }

  private static void writeString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }
}

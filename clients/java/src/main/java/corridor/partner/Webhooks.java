package corridor.partner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The {@code Corridor-Signature} header of webhook deliveries (docs/webhooks-receiver.md, ADR 12):
 * {@code t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>}, one or more v1 entries.
 */
public final class Webhooks {
  public static final String HEADER = "Corridor-Signature";
  public static final double DEFAULT_TOLERANCE_S = 300;
  private static final ObjectMapper JSON = new ObjectMapper();

  private Webhooks() {}

  /** "ok" (with the timestamp), "bad_signature", "stale" or "malformed". */
  public record Result(String result, long timestamp, String reason) {}

  private record Parsed(long timestamp, List<String> signatures, String problem) {}

  private static Parsed parse(String header) {
    Long timestamp = null;
    List<String> signatures = new ArrayList<>();
    for (String part : header.split(",", -1)) {
      String trimmed = part.strip();
      int at = trimmed.indexOf('=');
      if (at < 0) {
        continue;
      }
      String name = trimmed.substring(0, at);
      String value = trimmed.substring(at + 1).strip();
      if (name.equals("t")) {
        try {
          timestamp = Long.parseLong(value);
        } catch (NumberFormatException e) {
          return new Parsed(0, List.of(), "timestamp '" + value + "' is not an integer");
        }
      } else if (name.equals("v1")) {
        signatures.add(value.toLowerCase());
      }
    }
    if (timestamp == null || signatures.isEmpty()) {
      return new Parsed(0, List.of(), HEADER + " needs t=<unix seconds> and v1=<hex HMAC-SHA256>");
    }
    return new Parsed(timestamp, signatures, null);
  }

  public static String mac(String secret, long timestamp, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update((timestamp + ".").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Checks a delivery with each secret the receiver holds (several while a secret is being changed). */
  public static Result verify(String header, byte[] body, List<String> secrets, double now, double toleranceS) {
    if (header == null || header.isEmpty()) {
      return new Result("malformed", 0, "no " + HEADER + " header");
    }
    Parsed parsed = parse(header);
    if (parsed.problem() != null) {
      return new Result("malformed", 0, parsed.problem());
    }
    boolean matched = false;
    for (String secret : secrets) {
      byte[] expected = mac(secret, parsed.timestamp(), body).getBytes(StandardCharsets.US_ASCII);
      for (String given : parsed.signatures()) {
        matched |= MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.US_ASCII));
      }
    }
    if (!matched) {
      return new Result("bad_signature", 0, "signature does not match the body");
    }
    double off = Math.abs(now - parsed.timestamp());
    if (off > toleranceS) {
      return new Result("stale", 0, String.format("timestamp %d is %.0f s from now (tolerance %.0f s)",
          parsed.timestamp(), off, toleranceS));
    }
    return new Result("ok", parsed.timestamp(), null);
  }

  /** A receiver's decisions, as services/webhooks/receiver.py makes them. */
  public static final class Receiver {
    private final List<String> secrets;
    private final double toleranceS;
    private final Map<String, Long> accepted = new HashMap<>(); // v1 value → its timestamp
    private final Set<String> processed = new HashSet<>(); // CloudEvents ids

    public Receiver(List<String> secrets, double toleranceS) {
      this.secrets = secrets;
      this.toleranceS = toleranceS;
    }

    /** HTTP status and answer: processed, duplicate (200), bad_document (400), stale, bad_signature (401), replay (409). */
    public Map.Entry<Integer, String> receive(String header, byte[] body, double now) {
      Result checked = verify(header, body, secrets, now, toleranceS);
      if (!checked.result().equals("ok")) {
        return Map.entry(401, checked.result().equals("stale") ? "stale" : "bad_signature");
      }
      String id;
      try {
        JsonNode node = JSON.readTree(body).get("id");
        id = node != null && node.isTextual() ? node.asText() : "";
      } catch (java.io.IOException e) {
        id = "";
      }
      if (id.isEmpty()) {
        return Map.entry(400, "bad_document");
      }
      accepted.values().removeIf(t -> t < now - 2 * toleranceS);
      List<String> presented = parse(header).signatures();
      for (String s : presented) {
        if (accepted.containsKey(s)) {
          return Map.entry(409, "replay");
        }
      }
      for (String s : presented) {
        accepted.put(s, checked.timestamp());
      }
      if (!processed.add(id)) {
        return Map.entry(200, "duplicate");
      }
      return Map.entry(200, "processed");
    }
  }
}

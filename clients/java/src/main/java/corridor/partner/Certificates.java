package corridor.partner;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.Schema;

/**
 * Offline verification of an issuer's Ed25519 signature on a certificate event (ADR 13), with the
 * verdicts and their order of services/core/signatures.py {@code verify_event}: unsigned → unknown_signer
 * → tampered → revoked → the ledger's status of the certificate (REVOKED / SUPERSEDED) → valid.
 */
public final class Certificates {
  public static final Set<String> SIGNED_TYPES = Set.of(
      "corridor.trade.certificates.CertificateIssued", "corridor.trade.certificates.CertificateAmended");
  // DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows.
  private static final byte[] SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

  private Certificates() {}

  /** One registered key as {@code corridor certificates keys list --json} prints it. */
  public record AuthorityKey(String partnerId, String keyId, byte[] publicKey, String revokedAt) {
    public static AuthorityKey fromJson(Map<?, ?> json) {
      Object revoked = json.get("revoked_at");
      return new AuthorityKey((String) json.get("partner_id"), (String) json.get("key_id"),
          Base64.getDecoder().decode((String) json.get("public_key")), revoked == null ? null : revoked.toString());
    }
  }

  public record Verdict(String status, String reason, String certificateNumber, String keyId, String signer) {}

  public static Map<String, AuthorityKey> keyring(List<?> keys) {
    Map<String, AuthorityKey> ring = new HashMap<>();
    for (Object k : keys) {
      AuthorityKey key = AuthorityKey.fromJson((Map<?, ?>) k);
      ring.put(key.keyId(), key);
    }
    return ring;
  }

  /** The UTF-8 bytes an issuer signs: JCS of {"data": fields but signature, canonical; "type": event type}. */
  public static byte[] canonicalBytes(Schema schema, String type, Map<String, Object> value) {
    Map<String, Object> copy = new LinkedHashMap<>(value);
    copy.put("signature", null);
    Map<String, Object> document = new LinkedHashMap<>();
    document.put("type", type);
    document.put("data", Plain.canonical(schema, copy));
    return Jcs.bytes(document);
  }

  public static Verdict verify(Schema schema, String type, Map<String, Object> value,
                               Map<String, AuthorityKey> keyring, String certificateStatus) {
    String number = value.get("certificate_number") instanceof String s ? s : null;
    Map<?, ?> signature = value.get("signature") instanceof Map<?, ?> m ? m : null;
    if (!SIGNED_TYPES.contains(type) || signature == null) {
      return new Verdict("unsigned", type.substring(type.lastIndexOf('.') + 1) + " carries no signature", number, null, null);
    }
    String keyId = (String) signature.get("key_id");
    String issuer = (String) ((Map<?, ?>) value.get("issuer")).get("party_id");
    AuthorityKey key = keyring.get(keyId);
    String signer = key == null ? null : key.partnerId();
    if (key == null) {
      return new Verdict("unknown_signer", "no registered key '" + keyId + "'", number, keyId, null);
    }
    if (!key.partnerId().equals(issuer)) {
      return new Verdict("unknown_signer",
          "key '" + keyId + "' belongs to " + key.partnerId() + ", not to the issuer " + issuer, number, keyId, signer);
    }
    if (!"Ed25519".equals(signature.get("algorithm"))) {
      return new Verdict("tampered", "algorithm '" + signature.get("algorithm") + "' is not Ed25519", number, keyId, signer);
    }
    if (!ed25519(key.publicKey(), canonicalBytes(schema, type, value), (String) signature.get("value"))) {
      return new Verdict("tampered", "the signature by '" + keyId + "' does not match the certificate's content",
          number, keyId, signer);
    }
    if (key.revokedAt() != null) {
      return new Verdict("revoked", "the signing key '" + keyId + "' was revoked at " + key.revokedAt(), number, keyId, signer);
    }
    String status = certificateStatus == null ? "" : certificateStatus.toUpperCase();
    if (status.equals("REVOKED")) {
      return new Verdict("revoked", "signature valid, but the certificate is revoked", number, keyId, signer);
    }
    if (status.equals("SUPERSEDED")) {
      return new Verdict("superseded", "signature valid, but the certificate is superseded", number, keyId, signer);
    }
    return new Verdict("valid", "signed by " + issuer + " with key '" + keyId + "'", number, keyId, signer);
  }

  private static boolean ed25519(byte[] rawKey, byte[] message, String signatureBase64) {
    try {
      byte[] signature = Base64.getDecoder().decode(signatureBase64);
      if (signature.length != 64 || rawKey.length != 32) {
        return false;
      }
      byte[] spki = new byte[SPKI_PREFIX.length + 32];
      System.arraycopy(SPKI_PREFIX, 0, spki, 0, SPKI_PREFIX.length);
      System.arraycopy(rawKey, 0, spki, SPKI_PREFIX.length, 32);
      PublicKey key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
      Signature verifier = Signature.getInstance("Ed25519");
      verifier.initVerify(key);
      verifier.update(message);
      return verifier.verify(signature);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }
}

package kit.client;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonSyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Checks a vendor license, a lease, an offline license or a floating grant with nothing but the vendor's public key,
 * in the order and with the codes of docs/client-protocol.md ("What a client checks").
 */
public final class KitVerifier {
    public static final String LEASE = "kit-lease";
    public static final String OFFLINE_LICENSE = "kit-offline-license";
    public static final String FLOATING_GRANT = "kit-floating-grant";
    public static final String LICENSE = "kit-license";

    private static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    /** The DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the key's 32 bytes. */
    private static final byte[] ED25519_SPKI = HexFormat.of().parseHex("302a300506032b6570032100");

    private final byte[] vendorKey;
    private final Clock clock;

    /** @param vendorKey the vendor's 32-byte Ed25519 public key, built into the application */
    public KitVerifier(byte[] vendorKey, Clock clock) {
        this.vendorKey = vendorKey.clone();
        this.clock = clock;
    }

    /** The key of a vendor's .pub file: "kit-ed25519-public-key/1", then the key in base64. */
    public static byte[] readPublicKeyFile(String text) {
        var lines = text.strip().split("\\R");
        if (lines.length != 2 || !lines[0].equals("kit-ed25519-public-key/1"))
            throw new IllegalArgumentException("Not a Kit public key file: it starts with kit-ed25519-public-key/1.");
        return Base64.getDecoder().decode(lines[1].strip());
    }

    /** A verified signed file: its payload's fields. */
    public record Verified(JsonObject payload) {
        public String text(String name) {
            return KitVerifier.text(payload, name);
        }

        public Instant time(String name) {
            return OffsetDateTime.parse(text(name)).toInstant();
        }
    }

    /** Verifies the vendor's .lic alone: its envelope and the vendor's signature. Returns its payload. */
    public JsonObject verifyLicense(String licText) throws LicenseRejectedException {
        var envelope = object(licText, "license");
        if (envelope == null || !LICENSE.equals(text(envelope, "kind")))
            throw reject("unreadable", "The file does not say it is a Kit license (\"kind\": \"kit-license\").");
        for (var field : new String[] {"format", "alg", "keyId", "payload", "signature"})
            if (text(envelope, field) == null) throw reject("unreadable", "A required field of the license (" + field + ") is missing.");
        if (!"1".equals(text(envelope, "format"))) throw reject("unsupported_format", "The license has a format version other than 1.");
        if (!"Ed25519".equals(text(envelope, "alg"))) throw reject("unsupported_algorithm", "The license is not signed with Ed25519.");
        byte[] payload = base64(text(envelope, "payload"), "license"), signature = base64(text(envelope, "signature"), "license");
        if (!keyId(vendorKey).equals(text(envelope, "keyId")))
            throw reject("unknown_signer", "The license was signed by another key than the vendor's (key id " + text(envelope, "keyId") + ").");
        if (!verifies(vendorKey, payload, signature))
            throw reject("bad_signature", "The license's signature does not match its content: it was changed after the vendor signed it.");
        var parsed = object(new String(payload, StandardCharsets.UTF_8), null);
        if (parsed == null || !parsed.has("products") || !parsed.get("products").isJsonArray() || parsed.getAsJsonArray("products").isEmpty())
            throw reject("invalid_payload", "The license is signed, but its content is not a license.");
        return parsed;
    }

    /**
     * Verifies a lease, an offline license or a floating grant.
     *
     * @param kind one of {@link #LEASE}, {@link #OFFLINE_LICENSE}, {@link #FLOATING_GRANT}
     * @param machineId this machine's ID, or null not to check it
     */
    public Verified verify(String kind, String fileText, String machineId) throws LicenseRejectedException {
        var what = kind.replace("kit-", "").replace('-', ' ');
        var envelope = object(fileText, what);
        if (envelope == null || !kind.equals(text(envelope, "kind")))
            throw reject("unreadable", "The file is not a Kit " + what + ", or a required part of it is missing.");
        for (var field : new String[] {"format", "alg", "payload", "signature", "vendorLicense"})
            if (text(envelope, field) == null) throw reject("unreadable", "The file is not a Kit " + what + ", or a required part of it is missing.");
        if (!"1".equals(text(envelope, "format"))) throw reject("unsupported_format", "This " + what + " has a format version other than 1.");
        if (!"Ed25519".equals(text(envelope, "alg"))) throw reject("unsupported_algorithm", "This " + what + " is not signed with Ed25519.");

        var vendor = verifyLicense(text(envelope, "vendorLicense"));
        var vouchedKey = text(vendor, "serverPublicKey");
        if (vouchedKey == null) throw reject("not_vouched", "The vendor license inside does not vouch for any server key.");
        byte[] payloadBytes = base64(text(envelope, "payload"), what), signature = base64(text(envelope, "signature"), what);
        var claimed = object(new String(payloadBytes, StandardCharsets.UTF_8), null);
        if (claimed != null && text(claimed, "serverPublicKey") != null && !vouchedKey.equals(text(claimed, "serverPublicKey")))
            throw reject("not_vouched", "The " + what + " was signed by a server key that the vendor's license does not vouch for.");
        if (!verifies(Base64.getDecoder().decode(vouchedKey), payloadBytes, signature))
            throw reject("bad_signature", "The " + what + "'s signature does not match its content, or another server signed it.");
        if (claimed == null) throw reject("invalid_payload", "The " + what + " is signed, but its content is not a " + what + ".");
        try {
            return checkPayload(kind, what, new Verified(claimed), vendor, vouchedKey, machineId);
        } catch (RuntimeException e) {
            // A field missing or of the wrong type in a payload the server signed: not a file this client can trust.
            throw reject("invalid_payload", "The " + what + " is signed, but a field of its content is missing or not what it should be.");
        }
    }

    private Verified checkPayload(String kind, String what, Verified payload, JsonObject vendor, String vouchedKey, String machineId)
            throws LicenseRejectedException {
        var fileKind = payload.text("fileKind");
        if (!(kind.equals(fileKind) || (fileKind == null && !kind.equals(FLOATING_GRANT))))
            throw reject("wrong_kind", "This file was not signed as a " + what + ".");
        if (!vouchedKey.equals(payload.text("serverPublicKey")) || !java.util.Objects.equals(payload.text("installationId"), text(vendor, "installationId")))
            throw reject("not_vouched", "The " + what + " names another server than the one the vendor vouches for.");
        var now = clock.instant();
        withinVendorLicense(kind, what, payload, vendor, now);
        if (machineId != null && !machineId.equals(payload.text("machineId")))
            throw reject("other_machine", "This " + what + " is for machine " + payload.text("machineId") + ", not for this machine (" + machineId + ").");
        if (!payload.time("expiresAt").isAfter(now)) throw reject("expired", "This " + what + " expired on " + payload.text("expiresAt") + ".");
        return payload;
    }

    private static void withinVendorLicense(String kind, String what, Verified payload, JsonObject vendor, Instant now) throws LicenseRejectedException {
        JsonObject product = null;
        for (JsonElement p : vendor.getAsJsonArray("products"))
            if (p.getAsJsonObject().get("code").getAsString().equals(payload.text("productCode"))) product = p.getAsJsonObject();
        if (product == null) throw reject("not_in_vendor_license", "This " + what + " is for " + payload.text("productCode") + ", which the vendor's license does not grant.");
        var productKind = text(product, "kind");
        if (!productKind.equals(payload.text("kind")) || (kind.equals(FLOATING_GRANT) && !productKind.equals("floating")))
            throw reject("not_in_vendor_license", "This " + what + " is for " + payload.text("productCode") + " as another kind of product than the vendor's license grants.");
        var issued = payload.time("issuedAt");
        var expires = payload.time("expiresAt");
        if (issued.isAfter(now.plus(CLOCK_SKEW))) throw reject("issued_in_future", "This " + what + " says it was issued later than this machine's clock.");
        var validFrom = OffsetDateTime.parse(text(vendor, "validFrom")).toInstant();
        var validUntil = text(vendor, "validUntil") == null ? null : OffsetDateTime.parse(text(vendor, "validUntil")).toInstant();
        if (issued.isBefore(validFrom.minus(CLOCK_SKEW)) || (validUntil != null && !issued.isBefore(validUntil)))
            throw reject("beyond_vendor_license", "This " + what + " was issued outside the vendor's license.");
        if (validUntil != null && expires.isAfter(validUntil)) throw reject("beyond_vendor_license", "This " + what + " runs after the vendor's license ends.");
        var productEnd = text(product, "expiresAt") == null ? null : OffsetDateTime.parse(text(product, "expiresAt")).toInstant();
        if (productEnd != null && expires.isAfter(productEnd)) throw reject("beyond_vendor_license", "This " + what + " runs after the product's subscription ends.");
        Duration longest = kind.equals(LEASE) ? Duration.ofDays(limit(product, vendor, "leaseDays", 7))
                : kind.equals(FLOATING_GRANT) ? Duration.ofSeconds(limit(product, vendor, "sessionLeaseSeconds", 330)) : null;
        if (longest != null && Duration.between(issued, expires).compareTo(longest) > 0)
            throw reject("beyond_vendor_license", "This " + what + " lasts longer than the vendor's license allows.");
        if (kind.equals(OFFLINE_LICENSE) && productEnd == null && validUntil == null)
            throw reject("beyond_vendor_license", "Only products with an end date become offline licenses.");
    }

    /** A limit: the product's own, else the license's, else the default. */
    private static long limit(JsonObject product, JsonObject vendor, String name, long fallback) {
        for (var holder : new JsonObject[] {product, vendor}) {
            var limits = holder.get("limits");
            if (limits != null && limits.isJsonObject() && limits.getAsJsonObject().has(name) && !limits.getAsJsonObject().get(name).isJsonNull())
                return limits.getAsJsonObject().get(name).getAsLong();
        }
        return fallback;
    }

    static String keyId(byte[] publicKey) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(publicKey)).substring(0, 16);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean verifies(byte[] rawKey, byte[] message, byte[] signature) {
        try {
            var spki = new byte[ED25519_SPKI.length + rawKey.length];
            System.arraycopy(ED25519_SPKI, 0, spki, 0, ED25519_SPKI.length);
            System.arraycopy(rawKey, 0, spki, ED25519_SPKI.length, rawKey.length);
            PublicKey key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
            var verifier = Signature.getInstance("Ed25519");
            verifier.initVerify(key);
            verifier.update(message);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    private static JsonObject object(String text, String what) throws LicenseRejectedException {
        try {
            var element = JsonParser.parseString(text);
            return element.isJsonObject() ? element.getAsJsonObject() : null;
        } catch (JsonSyntaxException e) {
            if (what == null) return null;
            throw reject("unreadable", "The file is not a Kit " + what + ": it is not JSON.");
        }
    }

    /** A string or number field's text; null when it is missing, null, an object or an array. */
    private static String text(JsonObject object, String name) {
        var value = object.get(name);
        return value != null && value.isJsonPrimitive() ? value.getAsString() : null;
    }

    private static byte[] base64(String text, String what) throws LicenseRejectedException {
        try {
            return Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw reject("unreadable", "The " + what + "'s payload or signature is not valid base64.");
        }
    }

    private static LicenseRejectedException reject(String code, String message) {
        return new LicenseRejectedException(code, message);
    }
}

package kit.client;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The client API of Kit License Server (docs/client-protocol.md, docs/openapi.json). Refusals throw
 * {@link KitApiException} with the server's code; a server that cannot reach its database (503
 * database_unavailable) is retried with jitter for about 15 seconds. A lease or a floating seat counts only once
 * its signed file verifies with the vendor's key ({@link KitVerifier}); otherwise lease_invalid or grant_invalid.
 */
public final class KitClient {
    private static final Gson GSON = new Gson();

    private final URI server;
    private final HttpClient http;
    private final KitVerifier verifier;
    private volatile String token;
    private volatile String apiKey;
    /** How many times a 503 database_unavailable is repeated: after about 0.25, 0.5, 1, 2, then every 4 s. */
    private int databaseRetries = 6;

    public KitClient(URI server, byte[] vendorKey) {
        this(server, vendorKey, Clock.systemUTC());
    }

    public KitClient(URI server, byte[] vendorKey, Clock clock) {
        var base = server.toString();
        this.server = URI.create(base.endsWith("/") ? base : base + "/");
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        this.verifier = new KitVerifier(vendorKey, clock);
    }

    public KitVerifier verifier() {
        return verifier;
    }

    public void token(String token) {
        this.token = token;
    }

    public String token() {
        return token;
    }

    public void apiKey(String apiKey) {
        this.apiKey = apiKey;
    }

    public void databaseRetries(int retries) {
        this.databaseRetries = retries;
    }

    public record Organization(long id, String name, String role) {
    }

    public record Lease(String product, String machineId, long organizationId, Instant expiresAt, String text) {
    }

    /** Signs in; keeps the bearer token for the calls that need it and returns the person's organizations. */
    public JsonObject login(String email, String password) throws KitApiException, InterruptedException {
        var answer = send("POST", "api/v1/auth/login", Map.of("email", email, "password", password), Auth.NONE).getAsJsonObject();
        token = answer.get("token").getAsString();
        return answer;
    }

    public Organization[] organizations() throws KitApiException, InterruptedException {
        return GSON.fromJson(send("GET", "api/v1/organizations", null, Auth.BEARER), Organization[].class);
    }

    /** Activates a per-user product on a machine; the lease is returned only once it verifies, for this product, machine and organization. */
    public Lease activate(long organizationId, String product, String machineId) throws KitApiException, InterruptedException {
        var answer = send("POST", "api/v1/organizations/" + organizationId + "/activations", Map.of("product", product, "machineId", machineId), Auth.BEARER)
                .getAsJsonObject();
        var text = answer.has("lease") ? answer.get("lease").getAsString() : "";
        KitVerifier.Verified lease;
        try {
            lease = verifier.verify(KitVerifier.LEASE, text, machineId);
        } catch (LicenseRejectedException e) {
            throw new KitApiException(200, "lease_invalid", "The server's answer holds no valid lease (" + e.code() + "): " + e.getMessage());
        }
        if (!product.equals(lease.text("productCode")) || organizationId != Long.parseLong(lease.text("organizationId")))
            throw new KitApiException(200, "lease_invalid", "The server answered a lease for another product or organization than the one asked for.");
        return new Lease(product, machineId, organizationId, lease.time("expiresAt"), text);
    }

    public void deactivate(long organizationId, String product, String machineId) throws KitApiException, InterruptedException {
        send("DELETE", "api/v1/organizations/" + organizationId + "/activations", Map.of("product", product, "machineId", machineId), Auth.BEARER);
    }

    /**
     * Checks out a floating seat (with the API key). The client proposes the session id and repeats it on every retry,
     * so a checkout whose answer was lost gets the seat it already took, never a second one. With a heartbeat, the
     * session renews itself on its own timer until it is closed, which releases it.
     */
    public FloatingSession checkout(String product, String machineId, String processId, boolean heartbeat) throws KitApiException, InterruptedException {
        var sessionId = UUID.randomUUID();
        var answer = send("POST", "api/v1/sessions",
                Map.of("product", product, "machineId", machineId, "processId", processId, "sessionId", sessionId.toString()), Auth.API_KEY).getAsJsonObject();
        var grant = verifyGrant(answer, sessionId, product, machineId, processId, null);
        return new FloatingSession(this, grant, Duration.ofSeconds(answer.get("heartbeatIntervalSeconds").getAsLong()), heartbeat);
    }

    /** Renews a session; returns its new grant, verified, for the same seat. */
    public KitVerifier.Verified heartbeat(UUID sessionId, KitVerifier.Verified current) throws KitApiException, InterruptedException {
        var answer = send("PUT", "api/v1/sessions/" + sessionId + "/heartbeat", null, Auth.API_KEY).getAsJsonObject();
        return current == null ? verifyGrant(answer, sessionId, null, null, null, null)
                : verifyGrant(answer, sessionId, current.text("productCode"), current.text("machineId"), current.text("processId"), current.text("organizationId"));
    }

    public void release(UUID sessionId) throws KitApiException, InterruptedException {
        send("DELETE", "api/v1/sessions/" + sessionId, null, Auth.API_KEY);
    }

    public JsonObject server() throws KitApiException, InterruptedException {
        return send("GET", "api/v1/server", null, Auth.NONE).getAsJsonObject();
    }

    private KitVerifier.Verified verifyGrant(JsonObject answer, UUID sessionId, String product, String machineId, String processId, String organizationId)
            throws KitApiException {
        KitVerifier.Verified grant;
        try {
            grant = verifier.verify(KitVerifier.FLOATING_GRANT, answer.has("grant") ? answer.get("grant").getAsString() : "", machineId);
        } catch (LicenseRejectedException e) {
            throw new KitApiException(200, "grant_invalid", "The server's answer holds no valid floating grant (" + e.code() + "): " + e.getMessage()
                    + " The seat is not counted as held.");
        }
        if (!sessionId.toString().equals(grant.text("sessionId")) || !matches(product, grant.text("productCode"))
                || !matches(processId, grant.text("processId")) || !matches(organizationId, grant.text("organizationId")))
            throw new KitApiException(200, "grant_invalid", "The server's answer holds a grant for another session, product or process. The seat is not counted as held.");
        return grant;
    }

    private static boolean matches(String expected, String actual) {
        return expected == null || expected.equals(actual);
    }

    private enum Auth { NONE, BEARER, API_KEY }

    private com.google.gson.JsonElement send(String method, String path, Map<String, String> body, Auth auth) throws KitApiException, InterruptedException {
        for (var unavailable = 0; ; unavailable++) {
            var request = HttpRequest.newBuilder(server.resolve(path)).timeout(Duration.ofSeconds(30)).header("Accept", "application/json");
            if (body != null) request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(GSON.toJson(body)));
            else request.method(method, HttpRequest.BodyPublishers.noBody());
            switch (auth) {
                case BEARER -> {
                    if (token == null) throw new KitApiException(401, "unauthorized", "Sign in first.");
                    request.header("Authorization", "Bearer " + token);
                }
                case API_KEY -> {
                    if (apiKey == null) throw new KitApiException(401, "api_key_required", "Set an API key first.");
                    request.header("X-Api-Key", apiKey);
                }
                default -> { }
            }
            HttpResponse<String> response;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new KitApiException(0, "server_unreachable", "The license server at " + server + " did not answer: " + e.getMessage());
            }
            var status = response.statusCode();
            if (status >= 200 && status < 300)
                return response.body().isEmpty() ? new JsonObject() : JsonParser.parseString(response.body());
            var problem = problem(response.body());
            var code = problem.has("code") ? problem.get("code").getAsString() : "http_" + status;
            if (status == 503 && code.equals("database_unavailable") && unavailable < databaseRetries) {
                var pause = Math.min(4000, 250 * Math.pow(2, unavailable));
                Thread.sleep((long) (pause * (0.5 + ThreadLocalRandom.current().nextDouble())));
                continue;
            }
            throw new KitApiException(status, code, problem.has("detail") ? problem.get("detail").getAsString() : "The server answered " + status + ".");
        }
    }

    private static JsonObject problem(String body) {
        try {
            var element = JsonParser.parseString(body);
            return element.isJsonObject() ? element.getAsJsonObject() : new JsonObject();
        } catch (RuntimeException e) {
            return new JsonObject();
        }
    }
}

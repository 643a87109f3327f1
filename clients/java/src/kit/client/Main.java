package kit.client;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * java -jar kit-client.jar: the commands of kit, in Java. Exit codes: 0 done, 1 refused or invalid (the code is
 * printed), 2 usage, 3 server unreachable.
 */
public final class Main {
    private static final String USAGE = """
            usage: java -jar kit-client.jar COMMAND [options]
              machine-id                                      this machine's ID
              login --server URL --email EMAIL [--password P] signs in (or KIT_PASSWORD, or asks); keeps the token in ~/.kit
              orgs                                            my organizations
              activate --org ID --product CODE                activates on this machine; writes ~/.kit/CODE_<machine>.lease
              deactivate --org ID --product CODE
              checkout --product CODE [--process ID] [--for SECONDS] [--keep]
                                                              a floating seat (KIT_API_KEY), heartbeating until --for ends,
                                                              then released; --keep: no heartbeats, not released
              heartbeat --session ID                          renews a kept session
              release --session ID                            releases a session
              verify FILE [--machine-id ID]                   checks a lease, offline license or grant offline
              vectors DIR                                     checks this client against clients/test-vectors
            --vendor-key FILE (or KIT_VENDOR_KEY): the vendor's public key; --server URL overrides the one of login.
            """;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        var options = new HashMap<String, String>();
        String argument = null;
        for (var i = 1; i < args.length; i++) {
            if (args[i].startsWith("--")) {
                var equals = args[i].indexOf('=');
                if (equals > 0) options.put(args[i].substring(2, equals), args[i].substring(equals + 1));
                else if (args[i].equals("--keep")) options.put("keep", "true");
                else if (i + 1 < args.length) options.put(args[i].substring(2), args[++i]);
                else return usage(args[i] + " needs a value.");
            } else {
                argument = args[i];
            }
        }
        try {
            return command(args[0], options, argument);
        } catch (KitApiException e) {
            System.err.println("refused (" + e.code() + "): " + e.getMessage());
            return e.code().equals("server_unreachable") ? 3 : 1;
        } catch (LicenseRejectedException e) {
            System.err.println("invalid (" + e.code() + "): " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            return usage(e.getMessage());
        } catch (IOException e) {
            System.err.println(e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static int command(String name, Map<String, String> options, String argument)
            throws KitApiException, LicenseRejectedException, IOException, InterruptedException {
        switch (name) {
            case "machine-id" -> System.out.println(MachineId.current());
            case "login" -> {
                var client = new KitClient(URI.create(required(options, "server")), NO_KEY);
                var password = options.getOrDefault("password", System.getenv("KIT_PASSWORD"));
                if (password == null && System.console() != null) password = new String(System.console().readPassword("Password: "));
                if (password == null) password = new String(System.in.readAllBytes(), StandardCharsets.UTF_8).strip();
                var answer = client.login(required(options, "email"), password);
                var saved = new Properties();
                saved.setProperty("server", required(options, "server"));
                saved.setProperty("token", client.token());
                Files.createDirectories(home());
                try (var out = Files.newBufferedWriter(home().resolve("java-client.properties"))) {
                    saved.store(out, "kit-client.jar sign-in");
                }
                System.out.println("Signed in as " + answer.get("email").getAsString() + " until " + answer.get("expiresAt").getAsString() + ".");
            }
            case "orgs" -> {
                for (var org : signedIn(options, false).organizations()) System.out.println(org.id() + "\t" + org.name() + "\t" + org.role());
            }
            case "activate" -> {
                var machine = MachineId.current();
                var lease = signedIn(options, true).activate(Long.parseLong(required(options, "org")), required(options, "product"), machine);
                var file = home().resolve(lease.product() + "_" + machine + ".lease");
                Files.writeString(file, lease.text());
                System.out.println("Activated " + lease.product() + " on " + machine + " until " + lease.expiresAt() + "; the lease is in " + file + ".");
            }
            case "deactivate" -> {
                signedIn(options, false).deactivate(Long.parseLong(required(options, "org")), required(options, "product"), MachineId.current());
                System.out.println("Deactivated.");
            }
            case "checkout" -> {
                var keep = options.containsKey("keep");
                var session = withKey(options).checkout(required(options, "product"), MachineId.current(),
                        options.getOrDefault("process", Long.toString(ProcessHandle.current().pid())), !keep);
                System.out.println(session.sessionId() + "\t" + session.expiresAt());
                if (keep) return 0;
                try (session) {
                    Thread.sleep(Long.parseLong(options.getOrDefault("for", "60")) * 1000);
                    if (session.lost() != null) throw session.lost();
                }
                System.out.println("Released.");
            }
            case "heartbeat" -> {
                var grant = withKey(options).heartbeat(UUID.fromString(required(options, "session")), null);
                System.out.println(grant.text("sessionId") + "\t" + grant.text("expiresAt"));
            }
            case "release" -> {
                withKey(options).release(UUID.fromString(required(options, "session")));
                System.out.println("Released.");
            }
            case "verify" -> {
                if (argument == null) throw new IllegalArgumentException("verify needs the file to check.");
                var text = Files.readString(Path.of(argument));
                String kind;
                try {
                    kind = JsonParser.parseString(text).getAsJsonObject().get("kind").getAsString();
                } catch (RuntimeException e) {
                    throw new LicenseRejectedException("unreadable", "The file is not a Kit lease, offline license or grant: it is not JSON with a \"kind\".");
                }
                var verified = new KitVerifier(vendorKey(options), Clock.systemUTC()).verify(kind, text, options.getOrDefault("machine-id", MachineId.current()));
                System.out.println("Valid: " + verified.text("productCode") + " for " + verified.text("machineId") + " until " + verified.text("expiresAt") + ".");
            }
            case "vectors" -> {
                if (argument == null) throw new IllegalArgumentException("vectors needs the directory of the test vectors.");
                return TestVectors.check(Path.of(argument)) ? 0 : 1;
            }
            default -> throw new IllegalArgumentException("Unknown command " + name + ".");
        }
        return 0;
    }

    private static int usage(String why) {
        System.err.println(why);
        System.err.print(USAGE);
        return 2;
    }

    private static Path home() {
        return Path.of(System.getProperty("user.home"), ".kit");
    }

    private static String required(Map<String, String> options, String name) {
        var value = options.get(name);
        if (value == null) throw new IllegalArgumentException("--" + name + " is required.");
        return value;
    }

    /** For the calls that verify no signed file (sign-in, organizations, deactivation, release). */
    private static final byte[] NO_KEY = new byte[32];

    static byte[] vendorKey(Map<String, String> options) throws IOException {
        var file = options.getOrDefault("vendor-key", System.getenv("KIT_VENDOR_KEY"));
        if (file == null) throw new IllegalArgumentException("Give the vendor's public key: --vendor-key FILE or KIT_VENDOR_KEY.");
        return KitVerifier.readPublicKeyFile(Files.readString(Path.of(file)));
    }

    private static KitClient client(Map<String, String> options, String server) throws IOException {
        return new KitClient(URI.create(server), vendorKey(options));
    }

    private static Properties saved() throws IOException {
        var saved = new Properties();
        var file = home().resolve("java-client.properties");
        if (Files.exists(file)) try (var in = Files.newBufferedReader(file)) {
            saved.load(in);
        }
        return saved;
    }

    private static KitClient signedIn(Map<String, String> options, boolean verifies) throws IOException {
        var saved = saved();
        var server = options.getOrDefault("server", saved.getProperty("server"));
        if (server == null || saved.getProperty("token") == null) throw new IllegalArgumentException("Sign in first: login --server URL --email EMAIL.");
        var client = verifies ? client(options, server) : new KitClient(URI.create(server), NO_KEY);
        client.token(saved.getProperty("token"));
        return client;
    }

    private static KitClient withKey(Map<String, String> options) throws IOException {
        var key = System.getenv("KIT_API_KEY");
        if (key == null) throw new IllegalArgumentException("Set the organization's API key in KIT_API_KEY.");
        var server = options.getOrDefault("server", System.getenv().getOrDefault("KIT_SERVER", saved().getProperty("server")));
        if (server == null) throw new IllegalArgumentException("Give the server: --server URL, KIT_SERVER, or sign in first.");
        var client = client(options, server);
        client.apiKey(key);
        return client;
    }

    /** The time a test vector's case is checked at. */
    static Clock clockAt(String isoTime) {
        return Clock.fixed(OffsetDateTime.parse(isoTime).toInstant(), ZoneOffset.UTC);
    }

    static com.google.gson.JsonArray readArray(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file)).getAsJsonArray();
    }

    static JsonObject read(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    }
}

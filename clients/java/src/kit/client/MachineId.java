package kit.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The machine ID an offline license and a lease are bound to: stable for one machine and one OS account, the same
 * as every Kit client computes (docs/client-protocol.md, "The machine ID"; clients/test-vectors/machine-id.json).
 */
public final class MachineId {
    private static final Pattern PLATFORM_UUID = Pattern.compile("\"IOPlatformUUID\"\\s*=\\s*\"([0-9A-Fa-f-]{36})\"");
    private static final Pattern MACHINE_GUID = Pattern.compile("MachineGuid\\s+REG_SZ\\s+(\\S+)");

    private MachineId() {
    }

    public static String current() {
        return compute(machineIdentity(), System.getProperty("user.name", ""));
    }

    /** SHA-256 of "kit-machine-id/1\n" + identity (trimmed) + "\n" + user name (trimmed, lower case); 16 bytes in upper-case hex. */
    public static String compute(String machineIdentity, String userName) {
        var text = "kit-machine-id/1\n" + machineIdentity.strip() + "\n" + userName.strip().toLowerCase(Locale.ROOT);
        try {
            var hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().withUpperCase().formatHex(hash, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java runtime has SHA-256.", e);
        }
    }

    /** systemd's machine ID on Linux, Windows' MachineGuid, a Mac's IOPlatformUUID; the host name when none can be read. */
    static String machineIdentity() {
        for (var path : new String[] {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
            try {
                var id = Files.readString(Path.of(path)).strip();
                if (!id.isEmpty()) return id;
            } catch (IOException | SecurityException e) {
                // not this one
            }
        }
        var os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        // Java has no registry API: reg.exe reads the same value, in the registry's 64-bit view.
        var found = os.startsWith("windows")
                ? first(MACHINE_GUID, run("reg", "query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid", "/reg:64"))
                : os.startsWith("mac") ? platformUuidIn(run("/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice")) : null;
        if (found != null) return found;
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    /** The value of "IOPlatformUUID" in the output of ioreg; null when there is none. */
    public static String platformUuidIn(String ioregOutput) {
        return first(PLATFORM_UUID, ioregOutput);
    }

    private static String first(Pattern pattern, String text) {
        Matcher match = pattern.matcher(text);
        return match.find() ? match.group(1) : null;
    }

    private static String run(String... command) {
        try {
            var process = new ProcessBuilder(command).redirectErrorStream(true).start();
            var output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            process.waitFor(5, TimeUnit.SECONDS);
            return output;
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }
}

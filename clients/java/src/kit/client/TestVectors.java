package kit.client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks this client against clients/test-vectors: every case's verdict and code, every machine ID. */
final class TestVectors {
    private TestVectors() {
    }

    /** Prints one line per failure and a last line "N passed, N failed"; true when nothing failed. */
    static boolean check(Path directory) throws IOException {
        var cases = Main.read(directory.resolve("cases.json"));
        var vendorKey = KitVerifier.readPublicKeyFile(Files.readString(directory.resolve(cases.get("vendorKey").getAsString())));
        int passed = 0, failed = 0;
        for (var element : cases.getAsJsonArray("cases")) {
            var c = element.getAsJsonObject();
            var file = c.get("file").getAsString();
            var kind = c.get("verifyAs").getAsString();
            var machineId = c.get("machineId").isJsonNull() ? null : c.get("machineId").getAsString();
            var expected = c.get("code").isJsonNull() ? null : c.get("code").getAsString();
            var verifier = new KitVerifier(vendorKey, Main.clockAt(c.get("now").getAsString()));
            var text = Files.readString(directory.resolve(file));
            String got = null;
            try {
                if (kind.equals("vendor-license")) verifier.verifyLicense(text);
                else verifier.verify(kind, text, machineId);
            } catch (LicenseRejectedException e) {
                got = e.code();
            }
            if (java.util.Objects.equals(expected, got)) {
                passed++;
            } else {
                failed++;
                System.out.println("FAILED " + file + " as " + kind + ": expected " + (expected == null ? "valid" : expected) + ", got " + (got == null ? "valid" : got));
            }
        }
        for (var element : Main.readArray(directory.resolve("machine-id.json"))) {
            var entry = element.getAsJsonObject();
            var id = MachineId.compute(entry.get("machineIdentity").getAsString(), entry.get("userName").getAsString());
            if (id.equals(entry.get("machineId").getAsString())) {
                passed++;
            } else {
                failed++;
                System.out.println("FAILED machine ID of " + entry.get("source").getAsString() + ": expected " + entry.get("machineId").getAsString() + ", got " + id);
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        return failed == 0;
    }
}

package kit.client;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The integration test's race: THREADS threads of one process check out PRODUCT at the same moment, each its own
 * process id on this machine, and keep what they get. Prints "granted N", then "refused CODE N" per code.
 * Usage: Race SERVER VENDOR_KEY_FILE API_KEY PRODUCT THREADS
 */
public final class Race {
    private Race() {
    }

    public static void main(String[] args) throws Exception {
        var client = new KitClient(URI.create(args[0]), KitVerifier.readPublicKeyFile(Files.readString(Path.of(args[1]))));
        client.apiKey(args[2]);
        var threads = Integer.parseInt(args[4]);
        var start = new CountDownLatch(1);
        var granted = new AtomicInteger();
        Map<String, AtomicInteger> refused = new ConcurrentHashMap<>();
        var workers = new Thread[threads];
        for (var i = 0; i < threads; i++) {
            var process = "race-" + i;
            workers[i] = new Thread(() -> {
                try {
                    start.await();
                    client.checkout(args[3], MachineId.current(), process, false);
                    granted.incrementAndGet();
                } catch (KitApiException e) {
                    refused.computeIfAbsent(e.code(), c -> new AtomicInteger()).incrementAndGet();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            workers[i].start();
        }
        start.countDown();
        for (var worker : workers) worker.join();
        System.out.println("granted " + granted.get());
        new TreeMap<>(refused).forEach((code, count) -> System.out.println("refused " + code + " " + count.get()));
    }
}

package kit.client;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A floating seat held by this process. With a heartbeat, it renews itself every heartbeat interval on a timer of
 * its own; a heartbeat that fails with a network error is tried again at the next tick, and a refusal (such as
 * session_expired) ends it: {@link #lost()} then says why. {@link #close()} stops the timer (after a heartbeat under way) and releases the seat.
 */
public final class FloatingSession implements AutoCloseable {
    private final KitClient client;
    private final UUID sessionId;
    private final ScheduledExecutorService timer;
    private volatile KitVerifier.Verified grant;
    private volatile KitApiException lost;

    FloatingSession(KitClient client, KitVerifier.Verified grant, Duration interval, boolean heartbeat) {
        this.client = client;
        this.grant = grant;
        this.sessionId = UUID.fromString(grant.text("sessionId"));
        if (heartbeat) {
            timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
                var thread = new Thread(runnable, "kit-heartbeat-" + sessionId);
                thread.setDaemon(true);
                return thread;
            });
            timer.scheduleAtFixedRate(this::beat, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        } else {
            timer = null;
        }
    }

    public UUID sessionId() {
        return sessionId;
    }

    /** Until when the seat is held, by the last grant that verified. */
    public Instant expiresAt() {
        return grant.time("expiresAt");
    }

    /** Why the seat was lost (a heartbeat refused), or null while it is held. */
    public KitApiException lost() {
        return lost;
    }

    /** Renews the seat now; throws when the server refuses it (e.g. session_expired). */
    public void heartbeat() throws KitApiException, InterruptedException {
        grant = client.heartbeat(sessionId, grant);
    }

    private void beat() {
        try {
            heartbeat();
        } catch (KitApiException e) {
            if (e.code().equals("server_unreachable")) return;
            lost = e;
            timer.shutdown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the heartbeats and releases the seat. */
    @Override
    public void close() throws KitApiException {
        try {
            if (timer != null) {
                // A heartbeat under way finishes first: interrupting it would abort its connection, which the
                // HTTP client could then hand to the release.
                timer.shutdown();
                timer.awaitTermination(30, TimeUnit.SECONDS);
            }
            if (lost == null) client.release(sessionId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

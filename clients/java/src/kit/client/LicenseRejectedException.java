package kit.client;

/** A signed file a client must not trust, with the code of the check it failed (see docs/client-protocol.md). */
public final class LicenseRejectedException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String code;

    public LicenseRejectedException(String code, String message) {
        super(message);
        this.code = code;
    }

    /** The refusal's code: unreadable, bad_signature, other_machine, expired ... */
    public String code() {
        return code;
    }
}

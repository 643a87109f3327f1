package kit.client;

/** A refusal of the license server: the HTTP status, the problem's stable code and its sentence for people. */
public final class KitApiException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String code;

    public KitApiException(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}

namespace LicenseServer.Web.Api;

/// <summary>
/// Every code a problem answer of the client API may carry, with its HTTP status and what a client does about it.
/// The problem answers take their status from here (<see cref="ApiProblems"/>), the OpenAPI document lists the codes
/// (<see cref="ApiDocument"/>) with the ones each operation answers, and docs/client-protocol.md has the same table.
/// </summary>
public static class ApiProblemCodes
{
    public sealed record Code(int Status, string Name, string ClientAction);

    public static readonly IReadOnlyList<Code> All =
    [
        new(400, "invalid_request", "Fix the request: the body is not the JSON the operation takes, or a value is missing, too long or holds a NUL character."),
        new(400, "invalid_grant", "The single sign-on code is unknown, used, expired, or was issued to another verifier or address: sign in again."),
        new(400, "api_key_in_query", "Send the API key in the X-Api-Key header; a key in the URL ends up in logs."),
        new(401, "unauthorized", "Sign in (POST /api/v1/auth/login) and send Authorization: Bearer <token>."),
        new(401, "token_invalid", "The token is unknown, expired or revoked (a password change revokes tokens): sign in again."),
        new(401, "invalid_credentials", "Ask for the email and password again."),
        new(401, "api_key_required", "Send the organization's API key in the X-Api-Key header."),
        new(401, "api_key_invalid", "The key is not known: ask an admin for a valid key."),
        new(401, "api_key_revoked", "The key was revoked: a new key is made in the console."),
        new(403, "password_sign_in_off", "Passwords of this server are turned off for the person: sign in through single sign-on (kit login --sso)."),
        new(403, "directory_no_email", "The person's directory entry has no email address: their IT department adds one."),
        new(403, "not_a_member", "The person (or the key's owner) is no longer an enabled member of the organization."),
        new(403, "password_change_required", "An administrator set the password: sign in to the console once and choose a new one."),
        new(403, "not_licensed", "The person holds no license of the product in this organization: an admin assigns one."),
        new(403, "license_expired", "The server's license, or the product's subscription, has ended: an admin uploads a renewed license."),
        new(403, "clock_tampering", "The server's clock is earlier than its license's issue date: its administrator corrects the clock."),
        new(403, "machine_disabled", "An admin disabled this machine in the organization."),
        new(403, "not_assigned", "The organization lets only members assigned the floating product check it out: an admin assigns it."),
        new(403, "machine_not_allowed", "The product is limited to listed machines and this is not one of them."),
        new(404, "not_found", "There is no such API route."),
        new(404, "sso_not_configured", "The server has no single sign-on provider: sign in with email and password."),
        new(404, "not_activated", "The product is not activated on this machine: nothing to deactivate."),
        new(404, "session_not_found", "The session is not known (released, or never made): nothing to release."),
        new(404, "plugin_not_found", "There is no such plugin or version that the caller may see."),
        new(404, "plugin_file_missing", "The package's bytes are missing on the server: tell its administrator."),
        new(409, "quota_exceeded", "Every seat of the organization's share is in use: wait for one, or ask an admin for more."),
        new(409, "machine_limit", "The product is registered on as many machines as its quota: an admin removes one, or the person frees one of theirs."),
        new(409, "churn_limit", "The product was activated on too many new machines recently: wait, or ask an admin."),
        new(409, "over_allocated", "The organizations' shares exceed the license: the server admin lowers them."),
        new(409, "reserved", "The seats left are reserved for teams the caller is not in."),
        new(409, "plugin_ambiguous", "Two packages of the version are visible: download with an API key of the organization meant."),
        new(410, "session_expired", "The session's lease ran out (missed heartbeats): check out again, proposing the same session id."),
        new(413, "body_too_large", "The request body is larger than 16 KB."),
        new(415, "unsupported_media_type", "Send the body as application/json."),
        new(422, "unknown_product", "The server's license has no such product."),
        new(422, "not_per_user", "The product is floating: check it out with an API key instead."),
        new(422, "not_floating", "The product is per-user: activate it with the person's token instead."),
        new(429, "too_many_attempts", "Too many failed sign-ins: wait the Retry-After seconds."),
        new(503, "database_unavailable", "The server cannot reach its database: retry after Retry-After seconds, with jitter."),
        new(503, "directory_unavailable", "The company directory cannot be reached, so directory accounts cannot sign in: retry later."),
        new(503, "server_not_activated", "The server has no license yet: its administrator activates it."),
    ];

    public static Code? Find(string name) => All.FirstOrDefault(c => c.Name == name);

    public static Code Of(string name) => Find(name) ?? throw new ArgumentOutOfRangeException(nameof(name), name, "Not a code of the client API.");
}

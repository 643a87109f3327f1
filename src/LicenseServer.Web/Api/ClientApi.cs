using System.Text.Json;
using System.Text.Json.Serialization;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Metrics;

namespace LicenseServer.Web.Api;

public sealed record LoginRequest(string Email, string Password);
public sealed record OrganizationDto(long Id, string Name, string Role);
public sealed record LoginResponse(string Token, DateTimeOffset ExpiresAt, string Email, IReadOnlyList<OrganizationDto> Organizations);
public sealed record ActivationRequest(string Product, string MachineId);
public sealed record LeaseResponse(string Product, string MachineId, long OrganizationId, DateTimeOffset ExpiresAt, string Lease);
/// <param name="ProcessId">The client's process: a string, or a JSON number, kept as its digits.</param>
public sealed record CheckoutRequest(string Product, string MachineId, [property: JsonConverter(typeof(StringOrNumberConverter))] string ProcessId, Guid? SessionId = null);
public sealed record SessionResponse(Guid SessionId, int HeartbeatIntervalSeconds, DateTimeOffset ExpiresAt, string Grant);
public sealed record ServerResponse(string Version, string InstallationId, string ServerPublicKey, string? VendorLicense);

/// <summary>
/// The versioned client API under /api/v1 that the desktop IDE, the runtime engine,
/// LicenseServer.Client and the kit command use. Bearer tokens for people, X-Api-Key for runtime engines.
/// </summary>
public static class ClientApi
{
    public const int MaxBodyBytes = 16 * 1024;
    public const string ApiKeyHeader = "X-Api-Key";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new NulFreeStringConverter() },
        // The answers are application/json with nosniff, never put into a page, so '+', '<', '>' and '&' need
        // no escaping: a lease's text is base64 and JSON, and the default encoder escaped it character by
        // character (measured: 4% of the server's CPU per activation on the bench).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void MapClientApi(this WebApplication app)
    {
        var v1 = app.MapGroup("/api/v1").WithTags("Client API");

        v1.MapPost("/auth/login", LoginAsync).WithName("Login").WithSummary("Sign in with email (or directory user name) and password; returns a bearer token and my organizations.")
            .Accepts<LoginRequest>("application/json").Produces<LoginResponse>();
        v1.MapPost("/auth/logout", LogoutAsync).WithName("Logout").WithSummary("Revokes the bearer token.").Produces(204);
        v1.MapGet("/organizations", OrganizationsAsync).WithName("Organizations").WithSummary("My organizations with my role in each.")
            .Produces<IReadOnlyList<OrganizationDto>>();
        v1.MapPost("/organizations/{orgId:long}/activations", ActivateAsync).WithName("Activate")
            .WithSummary("Activates a per-user product on a machine; returns a lease signed with the server key. Re-activating a machine renews it.")
            .Accepts<ActivationRequest>("application/json").Produces<LeaseResponse>();
        v1.MapDelete("/organizations/{orgId:long}/activations", DeactivateAsync).WithName("Deactivate").WithSummary("Deactivates a product on a machine.")
            .Accepts<ActivationRequest>("application/json").Produces(204);
        v1.MapPost("/sessions", CheckoutAsync).WithName("Checkout")
            .WithSummary("Checks out a floating seat for one process (X-Api-Key). Repeating a live session id reuses its seat; a new one becomes the session's id, so a retried checkout never takes a second seat.")
            .Accepts<CheckoutRequest>("application/json").Produces<SessionResponse>(201);
        v1.MapPut("/sessions/{sessionId:guid}/heartbeat", HeartbeatAsync).WithName("Heartbeat").WithSummary("Keeps a floating session alive (X-Api-Key).")
            .Produces<SessionResponse>();
        v1.MapDelete("/sessions/{sessionId:guid}", ReleaseAsync).WithName("Release").WithSummary("Releases a floating session (X-Api-Key).")
            .Produces(204);
        v1.MapGet("/server", ServerAsync).WithName("Server")
            .WithSummary("Server version, installation ID, the server public key and the vendor's license that vouches for it.")
            .Produces<ServerResponse>();
        v1.MapMeApi();
        app.MapPluginApi();
        // Routes declare that they accept JSON; a body of another type falls through to here.
        app.Map("/api/{**rest}", IResult (HttpContext context) =>
        {
            var hasBody = context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0;
            throw hasBody && !context.Request.HasJsonContentType()
                ? new ApiException(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send the request body as application/json.")
                : new ApiException(StatusCodes.Status404NotFound, "not_found", $"There is no API at {context.Request.Method} {context.Request.Path}.");
        });
    }

    private static async Task<IResult> LoginAsync(HttpContext context, ClientLicenseService service)
    {
        var request = await ApiJson.ReadAsync<LoginRequest>(context.Request);
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var (token, result) = await service.LoginAsync(request.Email, request.Password, address);
        if (result.Status == SignInStatus.Throttled)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(result.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new ApiException(StatusCodes.Status429TooManyRequests, "too_many_attempts", "Too many failed sign-in attempts. Wait and try again.");
        }
        if (result.Refusal is { } refusal) throw new ApiException(ApiProblemCodes.Of(refusal.Code).Status, refusal.Code, refusal.Message);
        if (token is null) throw new ApiException(StatusCodes.Status401Unauthorized, "invalid_credentials", "The email or password is not correct.");
        return Results.Json(new LoginResponse(token.Token, token.ExpiresAt, token.Email, token.Organizations.Select(Dto).ToList()), Json);
    }

    private static async Task<IResult> LogoutAsync(HttpContext context, ClientLicenseService service)
    {
        await BearerAsync(context, service);
        await service.LogoutAsync(BearerToken(context)!);
        return Results.NoContent();
    }

    private static async Task<IResult> OrganizationsAsync(HttpContext context, ClientLicenseService service)
    {
        var caller = await BearerAsync(context, service);
        return Results.Json((await service.OrganizationsAsync(caller)).Select(Dto).ToList(), Json);
    }

    private static async Task<IResult> ActivateAsync(long orgId, HttpContext context, ClientLicenseService service)
    {
        // The token is checked in the round trip that renews an active machine. A refused token still
        // answers 401 before a bad body's 4xx: the token is looked up first when the body is refused.
        var token = BearerToken(context) ?? throw Unauthorized();
        string product, machineId;
        try
        {
            var request = await ApiJson.ReadAsync<ActivationRequest>(context.Request);
            (product, machineId) = (ApiJson.Identifier(request.Product, "product", 32), ApiJson.Identifier(request.MachineId, "machineId"));
        }
        catch
        {
            await BearerAsync(context, service);
            throw;
        }
        var lease = await service.ActivateByTokenAsync(token, orgId, product, machineId) ?? throw TokenInvalid();
        return Results.Json(new LeaseResponse(lease.Product, lease.MachineId, lease.OrganizationId, lease.ExpiresAt, lease.Lease), Json);
    }

    private static async Task<IResult> DeactivateAsync(long orgId, HttpContext context, ClientLicenseService service)
    {
        var caller = await BearerAsync(context, service);
        var request = await ApiJson.ReadAsync<ActivationRequest>(context.Request);
        await service.DeactivateAsync(caller, orgId, ApiJson.Identifier(request.Product, "product", 32), ApiJson.Identifier(request.MachineId, "machineId"));
        return Results.NoContent();
    }

    private static async Task<IResult> CheckoutAsync(HttpContext context, ClientLicenseService service, CheckoutCounters counters)
    {
        try
        {
            // The key is checked in the statement that takes the seat; only when it was refused do the key
            // checks run, to answer why.
            var key = ApiKeyHeaderValue(context);
            var request = await ApiJson.ReadAsync<CheckoutRequest>(context.Request);
            var session = await service.CheckoutAsync(key, ApiJson.Identifier(request.Product, "product", 32), ApiJson.Identifier(request.MachineId, "machineId"),
                ApiJson.Identifier(request.ProcessId, "processId", 64), request.SessionId) ?? throw await KeyRefusedAsync(context, service);
            counters.Granted();
            return Results.Json(new SessionResponse(session.SessionId, session.HeartbeatIntervalSeconds, session.ExpiresAt, session.Grant), Json, statusCode: StatusCodes.Status201Created);
        }
        catch (Exception e)
        {
            counters.Refused(e); // Metrics; the refusal itself is answered by ApiProblems
            throw;
        }
    }

    private static async Task<IResult> HeartbeatAsync(Guid sessionId, HttpContext context, ClientLicenseService service)
    {
        // One batched statement checks the key and renews the session; only when it was not renewed do
        // the checks run again, to answer why: a bad key or a former member, the server's license, else a
        // session that is gone.
        var session = KeyInQuery(context) ? null : await service.HeartbeatAsync(context.Request.Headers[ApiKeyHeader].ToString(), sessionId);
        if (session is null)
        {
            await ApiKeyAsync(context, service);
            throw await service.HeartbeatRefusedAsync();
        }
        return Results.Json(new SessionResponse(session.SessionId, session.HeartbeatIntervalSeconds, session.ExpiresAt, session.Grant), Json);
    }

    private static async Task<IResult> ReleaseAsync(Guid sessionId, HttpContext context, ClientLicenseService service)
    {
        // As for heartbeats: one statement checks the key and ends the session; the key checks run only
        // when nothing was released, to answer why.
        if (!await service.ReleaseAsync(ApiKeyHeaderValue(context), sessionId))
        {
            await ApiKeyAsync(context, service);
            throw ClientLicenseService.SessionNotFound();
        }
        return Results.NoContent();
    }

    private static async Task<IResult> ServerAsync(ClientLicenseService service)
    {
        var (version, installationId, serverKey, vendorLicense) = await service.ServerInfoAsync();
        return Results.Json(new ServerResponse(version, installationId, serverKey, vendorLicense), Json);
    }

    internal static OrganizationDto Dto(LicenseServer.Data.Organizations.MyOrganizationRow o) =>
        new(o.Id, o.Name, char.ToUpperInvariant(o.Role[0]) + o.Role[1..]);

    private static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    internal static async Task<ClientCaller> BearerAsync(HttpContext context, ClientLicenseService service)
    {
        var token = BearerToken(context) ?? throw Unauthorized();
        return await service.CallerByTokenAsync(token) ?? throw TokenInvalid();
    }

    private static ApiException Unauthorized() =>
        new(StatusCodes.Status401Unauthorized, "unauthorized", "Sign in first: send Authorization: Bearer <token> from /api/v1/auth/login.");

    private static ApiException TokenInvalid() =>
        new(StatusCodes.Status401Unauthorized, "token_invalid", "The token is unknown, expired or revoked (a password change revokes tokens). Sign in again.");

    /// <summary>Either kind of caller: an API key when the X-Api-Key header is sent, else a bearer token.</summary>
    internal static Task<ClientCaller> AnyCallerAsync(HttpContext context, ClientLicenseService service) =>
        context.Request.Headers.ContainsKey(ApiKeyHeader) ? ApiKeyAsync(context, service) : BearerAsync(context, service);

    private static bool KeyInQuery(HttpContext context) => context.Request.Query.Keys.Any(k => k.Contains("key", StringComparison.OrdinalIgnoreCase));

    /// <summary>An API key comes in the X-Api-Key header only; a key in the query string would end up in logs and is refused.</summary>
    private static string ApiKeyHeaderValue(HttpContext context)
    {
        if (KeyInQuery(context))
            throw new ApiException(StatusCodes.Status400BadRequest, "api_key_in_query", "Send the API key in the X-Api-Key header, never in the URL.");
        var key = context.Request.Headers[ApiKeyHeader].ToString();
        return key.Length > 0 ? key : throw new ApiException(StatusCodes.Status401Unauthorized, "api_key_required", "Send your API key in the X-Api-Key header.");
    }

    /// <summary>Why a key was refused by a statement that checked it along with its work.</summary>
    private static async Task<ApiException> KeyRefusedAsync(HttpContext context, ClientLicenseService service)
    {
        await ApiKeyAsync(context, service);
        // Valid again by now (a race with the console): the request was still refused.
        return new ApiException(StatusCodes.Status401Unauthorized, "api_key_invalid", "This API key was not accepted. Try again.");
    }

    private static async Task<ClientCaller> ApiKeyAsync(HttpContext context, ClientLicenseService service)
    {
        var key = ApiKeyHeaderValue(context);
        var found = await service.CallerByApiKeyAsync(key)
            ?? throw new ApiException(StatusCodes.Status401Unauthorized, "api_key_invalid", "This API key is not known to the server.");
        return found.Refusal switch
        {
            null => found.Caller,
            "api_key_revoked" => throw new ApiException(StatusCodes.Status401Unauthorized, "api_key_revoked", "This API key has been revoked. Create a new one in the console."),
            "not_a_member" => throw new ApiException(StatusCodes.Status403Forbidden, "not_a_member", "The owner of this API key is no longer an enabled member of its organization."),
            var code => throw new InvalidOperationException($"kit_api_key_caller answered a refusal this API does not word: {code}."),
        };
    }
}

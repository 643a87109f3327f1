using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Client;

/// <summary>
/// The client API of Kit License Server. One instance per server URL; sign in for per-user
/// products, or use an API key for floating sessions. Refusals throw <see cref="KitApiException"/>
/// with the server's code; a busy seat pool (429 <c>busy</c>) and a server that cannot reach its
/// database (503 <c>database_unavailable</c>) are retried with jitter.
/// </summary>
/// <remarks>
/// A lease or a floating seat counts only once its signed file verifies with the vendor's public key
/// (<see cref="KitVerifier"/>): an answer that does not (a stub server, a proxy, a server the vendor
/// does not vouch for) throws <see cref="KitApiException"/> with <c>lease_invalid</c> or <c>grant_invalid</c>.
/// </remarks>
public sealed partial class KitClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly KitVerifier _verifier;

    /// <param name="serverUrl">The license server.</param>
    /// <param name="vendorKey">The vendor's public key, built into the application: the only key a lease or grant is trusted by.</param>
    /// <param name="handler">An HTTP handler to use instead of the default one.</param>
    /// <param name="clock">The clock leases and grants are checked against; the system's by default.</param>
    public KitClient(Uri serverUrl, PublicKey vendorKey, HttpMessageHandler? handler = null, TimeProvider? clock = null)
    {
        _verifier = new KitVerifier(vendorKey, clock);
        _http = new HttpClient(handler ?? new HttpClientHandler(), disposeHandler: handler is null)
        {
            BaseAddress = new Uri(serverUrl.ToString().TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        _ownsHttp = true;
    }

    /// <summary>The bearer token from <see cref="LoginAsync"/>, or one saved from an earlier sign-in.</summary>
    public string? Token { get; set; }

    /// <summary>The API key for floating sessions (sent as X-Api-Key).</summary>
    public string? ApiKey { get; set; }

    /// <summary>How many times a 429 "busy" answer is retried before it is thrown.</summary>
    public int BusyRetries { get; set; } = 8;

    /// <summary>
    /// How many times a 503 "database_unavailable" answer is retried before it is thrown: after about
    /// 0.25, 0.5, 1, 2, then every 4 seconds (each spread by ±50 %), so the default rides out about 15
    /// seconds of a database restart or failover.
    /// </summary>
    public int DatabaseRetries { get; set; } = 6;

    public async Task<LoginResult> LoginAsync(string email, string password, CancellationToken cancel = default)
    {
        var dto = await SendAsync<LoginDto>(HttpMethod.Post, "api/v1/auth/login", new { email, password }, Auth.None, cancel);
        Token = dto.Token;
        return new LoginResult(dto.Token, dto.ExpiresAt, dto.Email, dto.Organizations);
    }

    public async Task<IReadOnlyList<Organization>> OrganizationsAsync(CancellationToken cancel = default) =>
        await SendAsync<List<Organization>>(HttpMethod.Get, "api/v1/organizations", null, Auth.Bearer, cancel);

    /// <summary>Activates a per-user product on this machine; the lease is returned only once it verifies with the vendor key, for this product and machine.</summary>
    public async Task<Lease> ActivateAsync(long organizationId, string product, string machineId, CancellationToken cancel = default)
    {
        var dto = await SendAsync<LeaseDto>(HttpMethod.Post, $"api/v1/organizations/{organizationId}/activations", new { product, machineId }, Auth.Bearer, cancel);
        OfflineLicensePayload lease;
        try
        {
            lease = _verifier.VerifyLease(dto.Lease ?? "", machineId);
        }
        catch (LicenseRejectedException e)
        {
            throw new KitApiException(200, "lease_invalid", $"The server's answer holds no valid lease ({e.Code}): {e.Message}");
        }
        if (lease.ProductCode != product || lease.OrganizationId != organizationId)
            throw new KitApiException(200, "lease_invalid", $"The server answered a lease for {lease.ProductCode} in organization {lease.OrganizationId}, not the one asked for.");
        return new Lease(lease.ProductCode, lease.MachineId, lease.OrganizationId, lease.ExpiresAt, dto.Lease!);
    }

    public Task DeactivateAsync(long organizationId, string product, string machineId, CancellationToken cancel = default) =>
        SendAsync<object>(HttpMethod.Delete, $"api/v1/organizations/{organizationId}/activations", new { product, machineId }, Auth.Bearer, cancel);

    /// <summary>
    /// Checks out a floating seat. The session heartbeats on its own timer and is released when disposed.
    /// The client proposes the session id, and repeats it when it retries: a checkout whose answer was lost
    /// then gets the seat it already took instead of a second one.
    /// </summary>
    /// <remarks>The seat counts only once its grant verifies with the vendor key, for this product, machine and process.</remarks>
    public async Task<FloatingSession> CheckoutAsync(string product, string machineId, string processId, bool autoHeartbeat = true, CancellationToken cancel = default)
    {
        var sessionId = Guid.NewGuid();
        var dto = await SendAsync<SessionDto>(HttpMethod.Post, "api/v1/sessions", new { product, machineId, processId, sessionId }, Auth.ApiKey, cancel);
        var grant = VerifyGrant(dto, new GrantExpected(sessionId, product, machineId, processId, null));
        return new FloatingSession(this, grant, TimeSpan.FromSeconds(dto.HeartbeatIntervalSeconds), autoHeartbeat);
    }

    /// <summary>Renews a session; returns its new grant, verified with the vendor key.</summary>
    public async Task<FloatingGrantPayload> HeartbeatAsync(Guid sessionId, CancellationToken cancel = default) =>
        VerifyGrant(await SendAsync<SessionDto>(HttpMethod.Put, $"api/v1/sessions/{sessionId}/heartbeat", null, Auth.ApiKey, cancel),
            new GrantExpected(sessionId, null, null, null, null));

    /// <summary>Renews a session; the new grant must be for the same seat as <paramref name="current"/>.</summary>
    internal async Task<FloatingGrantPayload> HeartbeatAsync(FloatingGrantPayload current, CancellationToken cancel = default) =>
        VerifyGrant(await SendAsync<SessionDto>(HttpMethod.Put, $"api/v1/sessions/{current.SessionId}/heartbeat", null, Auth.ApiKey, cancel),
            new GrantExpected(current.SessionId, current.ProductCode, current.MachineId, current.ProcessId, current.OrganizationId));

    /// <summary>What a grant must say; null: anything.</summary>
    private sealed record GrantExpected(Guid SessionId, string? Product, string? MachineId, string? ProcessId, long? OrganizationId);

    /// <summary>The answer's grant, verified with the vendor key, and for the seat asked for.</summary>
    private FloatingGrantPayload VerifyGrant(SessionDto dto, GrantExpected expected)
    {
        FloatingGrantPayload grant;
        try
        {
            grant = _verifier.VerifyGrant(dto.Grant ?? throw new LicenseRejectedException(LicenseRejection.Unreadable, "The answer holds no grant."), expected.MachineId);
        }
        catch (LicenseRejectedException e)
        {
            throw new KitApiException(200, "grant_invalid", $"The server's answer holds no valid floating grant ({e.Code}): {e.Message} The seat is not counted as held.");
        }
        if (grant.SessionId != expected.SessionId || (expected.Product ?? grant.ProductCode) != grant.ProductCode
            || (expected.ProcessId ?? grant.ProcessId) != grant.ProcessId || (expected.OrganizationId ?? grant.OrganizationId) != grant.OrganizationId)
            throw new KitApiException(200, "grant_invalid", "The server's answer holds a grant for another session, product or process than the one asked for. The seat is not counted as held.");
        return grant;
    }

    public Task ReleaseAsync(Guid sessionId, CancellationToken cancel = default) =>
        SendAsync<object>(HttpMethod.Delete, $"api/v1/sessions/{sessionId}", null, Auth.ApiKey, cancel);

    /// <summary>The plugins this caller may see (signed in, or with an API key).</summary>
    public async Task<IReadOnlyList<Plugin>> PluginsAsync(string? search = null, CancellationToken cancel = default) =>
        await SendAsync<List<Plugin>>(HttpMethod.Get, "api/v1/plugins" + (search is null ? "" : "?search=" + Uri.EscapeDataString(search)), null, PluginAuth, cancel);

    /// <summary>Downloads a plugin version into <paramref name="destination"/> and checks its SHA-256; returns it.</summary>
    public async Task<string> DownloadPluginAsync(string pluginId, string version, Stream destination, CancellationToken cancel = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/plugins/{Uri.EscapeDataString(pluginId)}/{Uri.EscapeDataString(version)}/download");
        Authorize(request, PluginAuth);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ReadProblemAsync(response, cancel);
            throw new KitApiException((int)response.StatusCode, problem.Code ?? "http_" + (int)response.StatusCode, problem.Detail ?? "The download was refused.");
        }
        var expected = response.Headers.TryGetValues("X-Checksum-SHA256", out var values) ? values.First() : null;
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        await using var body = await response.Content.ReadAsStreamAsync(cancel);
        var buffer = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(buffer, cancel)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await destination.WriteAsync(buffer.AsMemory(0, read), cancel);
        }
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (expected is not null && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            throw new KitApiException(0, "checksum_mismatch", $"The downloaded package's SHA-256 is {actual}, not {expected}: it was damaged on the way. Download it again.");
        return actual;
    }

    private Auth PluginAuth => ApiKey is not null ? Auth.ApiKey : Auth.Bearer;

    public Task<ServerInfo> ServerAsync(CancellationToken cancel = default) =>
        SendAsync<ServerInfo>(HttpMethod.Get, "api/v1/server", null, Auth.None, cancel);

    private enum Auth { None, Bearer, ApiKey }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, Auth auth, CancellationToken cancel)
    {
        for (int busy = 0, unavailable = 0; ;)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = JsonContent.Create(body, options: Json);
            Authorize(request, auth);
            using var response = await _http.SendAsync(request, cancel);
            if (response.IsSuccessStatusCode)
                return response.StatusCode == HttpStatusCode.NoContent || typeof(T) == typeof(object)
                    ? default!
                    : (await response.Content.ReadFromJsonAsync<T>(Json, cancel))!;
            var problem = await ReadProblemAsync(response, cancel);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && problem.Code == "busy" && busy < BusyRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * ++busy + Random.Shared.Next(100)), cancel);
                continue;
            }
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && problem.Code == "database_unavailable" && unavailable < DatabaseRetries)
            {
                var pause = Math.Min(4000, 250 * Math.Pow(2, unavailable++));
                await Task.Delay(TimeSpan.FromMilliseconds(pause * (0.5 + Random.Shared.NextDouble())), cancel);
                continue;
            }
            throw new KitApiException((int)response.StatusCode, problem.Code ?? "http_" + (int)response.StatusCode,
                problem.Detail ?? problem.Title ?? $"The server answered {(int)response.StatusCode}.");
        }
    }

    private void Authorize(HttpRequestMessage request, Auth auth)
    {
        switch (auth)
        {
            case Auth.Bearer:
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token ?? throw new KitApiException(401, "unauthorized", "Sign in first."));
                break;
            case Auth.ApiKey:
                request.Headers.Add("X-Api-Key", ApiKey ?? throw new KitApiException(401, "api_key_required", "Set an API key first."));
                break;
        }
    }

    private static async Task<ProblemDto> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancel)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemDto>(Json, cancel) ?? new ProblemDto(null, null, null);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            return new ProblemDto(null, null, response.ReasonPhrase);
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }
}

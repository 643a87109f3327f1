using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LicenseServer.Bench.Data;
using LicenseServer.Bench.Server;

namespace LicenseServer.Bench.Load;

/// <summary>A phase's figures: its main request kind, and the releases that follow each checkout.</summary>
public sealed record PhaseResult(string Name, string Path, long LiveSessions, int Clients, double Seconds, OperationStats Main, OperationStats? Release)
{
    /// <summary>Where the phase's CPU went (warm-up included), and so its CPU milliseconds per operation.</summary>
    public CpuUse? Cpu { get; init; }

    /// <summary>What the server's JIT compiled during the phase (warm-up included); its time is part of the server's CPU.</summary>
    public JitUse? Jit { get; init; }
}

/// <summary>
/// Drives the client API over loopback HTTP the way runtime engines and desktop IDEs do, with N concurrent
/// clients, each with its own user and credentials, calling the JSON endpoints directly (the cheapest client,
/// so the figures are the server's). Each phase runs a warm-up, then a measured window of fixed length.
/// </summary>
public sealed class LoadDriver : IDisposable
{
    private const int Main = 0, Release = 1;

    private readonly HttpClient _http;
    private readonly BenchDataSet _data;
    private readonly BenchOptions _options;

    public LoadDriver(string baseUrl, BenchDataSet data, BenchOptions options)
    {
        _data = data;
        _options = options;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Clients * 2,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    private BenchUser UserOf(int client) => _data.Users[client % _data.Users.Count];

    /// <summary>Each client: check out a floating seat on one of the fleet's machines, then release it. Checkout latency is the figure; releases are counted apart.</summary>
    public Task<PhaseResult> CheckoutAsync(long liveSessions, CancellationToken cancel) =>
        RunAsync("checkout", "POST /api/v1/sessions", liveSessions, 2, async (client, recorder) =>
        {
            var user = UserOf(client);
            var random = new Random(client);
            while (!recorder.Over && !cancel.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                var (session, error) = await CheckoutOnceAsync(user, BenchDataSet.MachineId(random.Next(_data.Machines)), $"bench-{client}", cancel);
                if (session is not { } id)
                {
                    recorder.Failure(Main, started, error!);
                    continue;
                }
                recorder.Success(Main, started);
                started = Stopwatch.GetTimestamp();
                var releaseError = await ReleaseOnceAsync(user, id, cancel);
                if (releaseError is null) recorder.Success(Release, started);
                else recorder.Failure(Release, started, releaseError);
            }
        }, hasRelease: true, cancel);

    /// <summary>Each client holds a few live sessions and heartbeats them in turn; they are released after the phase.</summary>
    public async Task<PhaseResult> HeartbeatAsync(long liveSessions, CancellationToken cancel)
    {
        var held = new List<(BenchUser User, Guid Id)>[_options.Clients];
        await Parallel.ForAsync(0, _options.Clients, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancel }, async (client, token) =>
        {
            held[client] = [];
            for (var i = 0; i < _options.SessionsPerHeartbeatClient; i++)
            {
                var (session, error) = await CheckoutOnceAsync(UserOf(client), BenchDataSet.MachineId((client * 7 + i) % _data.Machines), $"bench-hb-{client}", token);
                held[client].Add((UserOf(client), session ?? throw new InvalidOperationException($"The heartbeat phase could not check out its sessions: {error}")));
            }
        });
        try
        {
            return await RunAsync("heartbeat", "PUT /api/v1/sessions/{id}/heartbeat", liveSessions, 1, async (client, recorder) =>
            {
                var sessions = held[client];
                for (var n = 0; !recorder.Over && !cancel.IsCancellationRequested; n++)
                {
                    var (user, id) = sessions[n % sessions.Count];
                    var started = Stopwatch.GetTimestamp();
                    using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/sessions/{id}/heartbeat");
                    request.Headers.Add("X-Api-Key", user.ApiKey);
                    var error = await SendAsync(request, HttpStatusCode.OK, cancel);
                    if (error is null) recorder.Success(Main, started);
                    else recorder.Failure(Main, started, error);
                }
            }, hasRelease: false, cancel);
        }
        finally
        {
            foreach (var (user, id) in held.Where(h => h is not null).SelectMany(h => h)) await ReleaseOnceAsync(user, id, CancellationToken.None);
        }
    }

    private string[]? _tokens;

    /// <summary>Uses the bearer tokens that <paramref name="other"/> signed in for (same users, same clients).</summary>
    public void SignedInAs(LoadDriver other) => _tokens = other._tokens;

    /// <summary>
    /// Signs every client in as its user once, for the activation phase. Apart from the phase, whose CPU
    /// figures would otherwise hold 64 password hashes (PBKDF2, by design the dearest request there is).
    /// </summary>
    public async Task SignInAsync(CancellationToken cancel)
    {
        var tokens = new string[_options.Clients];
        await Parallel.ForAsync(0, _options.Clients, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancel }, async (client, token) =>
        {
            var user = UserOf(client);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/login")
            {
                Content = Json(JsonSerializer.SerializeToUtf8Bytes(new { email = user.Email, password = _data.Password })),
            };
            using var response = await _http.SendAsync(request, token);
            var body = await response.Content.ReadAsByteArrayAsync(token);
            if (response.StatusCode != HttpStatusCode.OK)
                throw new InvalidOperationException($"Sign-in of {user.Email} failed: {(int)response.StatusCode} {ErrorCode(body)}");
            tokens[client] = JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
        });
        _tokens = tokens;
    }

    /// <summary>
    /// Per-user activations: each client, signed in as its user (<see cref="SignInAsync"/>), activates the
    /// per-user product on its user's two machines in turn (the per-user limit): the first two are new
    /// activations, every later one a renewal of an active machine, the hot case of desktop IDEs renewing leases.
    /// </summary>
    public async Task<PhaseResult> ActivationAsync(long liveSessions, CancellationToken cancel)
    {
        var tokens = _tokens ?? throw new InvalidOperationException("Sign the clients in (SignInAsync) before the activation phase.");
        return await RunAsync("activation", "POST /api/v1/organizations/{orgId}/activations", liveSessions, 1, async (client, recorder) =>
        {
            var user = UserOf(client);
            byte[][] bodies = [.. Enumerable.Range(0, 2).Select(m => JsonSerializer.SerializeToUtf8Bytes(
                new { product = KitServerProcess.PerUserProduct, machineId = $"bench-ws-{user.Id}-{m}" }))];
            var path = $"/api/v1/organizations/{user.OrganizationId}/activations";
            for (var n = 0; !recorder.Over && !cancel.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(bodies[n % 2]) };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[client]);
                var error = await SendAsync(request, HttpStatusCode.OK, cancel);
                if (error is null) recorder.Success(Main, started);
                else recorder.Failure(Main, started, error);
            }
        }, hasRelease: false, cancel);
    }

    private async Task<PhaseResult> RunAsync(string name, string path, long liveSessions, int kinds, Func<int, PhaseRecorder, Task> client, bool hasRelease, CancellationToken cancel)
    {
        var start = Stopwatch.GetTimestamp() + (long)(_options.WarmupSeconds * Stopwatch.Frequency);
        var end = start + (long)(_options.Seconds * Stopwatch.Frequency);
        var recorders = Enumerable.Range(0, _options.Clients).Select(_ => new PhaseRecorder(start, end, kinds)).ToArray();
        await Task.WhenAll(recorders.Select((recorder, i) => Task.Run(() => client(i, recorder), cancel)));
        cancel.ThrowIfCancellationRequested();
        return new PhaseResult(name, path, liveSessions, _options.Clients, _options.Seconds,
            PhaseRecorder.Merge(recorders, Main, _options.Seconds), hasRelease ? PhaseRecorder.Merge(recorders, Release, _options.Seconds) : null);
    }

    /// <summary>One checkout; the session id, or the error as "status code".</summary>
    public async Task<(Guid? Session, string? Error)> CheckoutOnceAsync(BenchUser user, string machineId, string processId, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
        {
            Content = Json(Encoding.UTF8.GetBytes($$"""{"product":"{{KitServerProcess.FloatingProduct}}","machineId":"{{machineId}}","processId":"{{processId}}"}""")),
        };
        request.Headers.Add("X-Api-Key", user.ApiKey);
        try
        {
            using var response = await _http.SendAsync(request, cancel);
            var body = await response.Content.ReadAsByteArrayAsync(cancel);
            if (response.StatusCode != HttpStatusCode.Created) return (null, $"{(int)response.StatusCode} {ErrorCode(body)}");
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("sessionId") && reader.Read())
                    return (reader.GetGuid(), null);
            return (null, "201 no_session_id");
        }
        catch (HttpRequestException e)
        {
            return (null, $"network {e.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            return (null, "timeout");
        }
    }

    public async Task<string?> HeartbeatOnceAsync(BenchUser user, Guid session, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/sessions/{session}/heartbeat");
        request.Headers.Add("X-Api-Key", user.ApiKey);
        return await SendAsync(request, HttpStatusCode.OK, cancel);
    }

    public async Task<string?> ReleaseOnceAsync(BenchUser user, Guid session, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/sessions/{session}");
        request.Headers.Add("X-Api-Key", user.ApiKey);
        return await SendAsync(request, HttpStatusCode.NoContent, cancel);
    }

    /// <summary>Null on the expected status; otherwise "status code" from the problem details, or the network error.</summary>
    private async Task<string?> SendAsync(HttpRequestMessage request, HttpStatusCode expected, CancellationToken cancel)
    {
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancel);
            if (response.StatusCode == expected) return null;
            return $"{(int)response.StatusCode} {ErrorCode(await response.Content.ReadAsByteArrayAsync(cancel))}";
        }
        catch (HttpRequestException e)
        {
            return $"network {e.HttpRequestError}";
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            return "timeout";
        }
    }

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static string ErrorCode(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body).RootElement.TryGetProperty("code", out var code) ? code.GetString() ?? "?" : "?";
        }
        catch (JsonException)
        {
            return "?";
        }
    }

    public void Dispose() => _http.Dispose();
}

using System.Diagnostics;
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
/// clients, each with its own user, credentials and keep-alive connection, calling the JSON endpoints directly
/// with the cheapest client there is (<see cref="HttpConnection"/>), so the figures are the server's. Each phase
/// runs a warm-up, then a measured window of fixed length.
/// </summary>
public sealed class LoadDriver : IDisposable
{
    private const int Main = 0, Release = 1;

    private readonly HttpConnection[] _connections;
    private readonly BenchDataSet _data;
    private readonly BenchOptions _options;

    public LoadDriver(string baseUrl, BenchDataSet data, BenchOptions options)
    {
        _data = data;
        _options = options;
        _connections = [.. Enumerable.Range(0, options.Clients).Select(_ => new HttpConnection(new Uri(baseUrl)))];
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
                var (session, error) = await CheckoutOnceAsync(user, BenchDataSet.MachineId(random.Next(_data.Machines)), $"bench-{client}", cancel, client);
                if (session is not { } id)
                {
                    recorder.Failure(Main, started, error!);
                    continue;
                }
                recorder.Success(Main, started);
                started = Stopwatch.GetTimestamp();
                var releaseError = await ReleaseOnceAsync(user, id, cancel, client);
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
                var (session, error) = await CheckoutOnceAsync(UserOf(client), BenchDataSet.MachineId((client * 7 + i) % _data.Machines), $"bench-hb-{client}", token, client);
                held[client].Add((UserOf(client), session ?? throw new InvalidOperationException($"The heartbeat phase could not check out its sessions: {error}")));
            }
        });
        try
        {
            return await RunAsync("heartbeat", "PUT /api/v1/sessions/{id}/heartbeat", liveSessions, 1, async (client, recorder) =>
            {
                var connection = _connections[client];
                var requests = held[client].Select(h => connection.Format("PUT", $"/api/v1/sessions/{h.Id}/heartbeat", $"X-Api-Key: {h.User.ApiKey}\r\n")).ToArray();
                for (var n = 0; !recorder.Over && !cancel.IsCancellationRequested; n++)
                {
                    var started = Stopwatch.GetTimestamp();
                    var error = await SendAsync(connection, requests[n % requests.Length], 200, cancel);
                    if (error is null) recorder.Success(Main, started);
                    else recorder.Failure(Main, started, error);
                }
            }, hasRelease: false, cancel);
        }
        finally
        {
            for (var client = 0; client < held.Length; client++)
                foreach (var (user, id) in held[client] ?? []) await ReleaseOnceAsync(user, id, CancellationToken.None, client);
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
            var connection = _connections[client];
            var answer = await connection.SendAsync(connection.Format("POST", "/api/v1/auth/login", "",
                JsonSerializer.SerializeToUtf8Bytes(new { email = user.Email, password = _data.Password })), token);
            var body = answer.Body;
            if (answer.Status != 200)
                throw new InvalidOperationException($"Sign-in of {user.Email} failed: {answer.NetworkError ?? $"{answer.Status} {ErrorCode(body)}"}");
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
            var connection = _connections[client];
            var path = $"/api/v1/organizations/{user.OrganizationId}/activations";
            byte[][] requests = [.. Enumerable.Range(0, 2).Select(m => connection.Format("POST", path, $"Authorization: Bearer {tokens[client]}\r\n",
                JsonSerializer.SerializeToUtf8Bytes(new { product = KitServerProcess.PerUserProduct, machineId = $"bench-ws-{user.Id}-{m}" })))];
            for (var n = 0; !recorder.Over && !cancel.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                var error = await SendAsync(connection, requests[n % 2], 200, cancel);
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

    /// <summary>One checkout on the connection of <paramref name="client"/>; the session id, or the error as "status code".</summary>
    public async Task<(Guid? Session, string? Error)> CheckoutOnceAsync(BenchUser user, string machineId, string processId, CancellationToken cancel, int client = 0)
    {
        var connection = _connections[client];
        var answer = await connection.SendAsync(connection.Format("POST", "/api/v1/sessions", $"X-Api-Key: {user.ApiKey}\r\n",
            Encoding.UTF8.GetBytes($$"""{"product":"{{KitServerProcess.FloatingProduct}}","machineId":"{{machineId}}","processId":"{{processId}}"}""")), cancel);
        if (answer.NetworkError is { } network) return (null, network);
        if (answer.Status != 201) return (null, $"{answer.Status} {ErrorCode(answer.Body)}");
        var reader = new Utf8JsonReader(answer.Body);
        while (reader.Read())
            if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("sessionId") && reader.Read())
                return (reader.GetGuid(), null);
        return (null, "201 no_session_id");
    }

    public Task<string?> HeartbeatOnceAsync(BenchUser user, Guid session, CancellationToken cancel, int client = 0) =>
        SendAsync(_connections[client], _connections[client].Format("PUT", $"/api/v1/sessions/{session}/heartbeat", $"X-Api-Key: {user.ApiKey}\r\n"), 200, cancel);

    public Task<string?> ReleaseOnceAsync(BenchUser user, Guid session, CancellationToken cancel, int client = 0) =>
        SendAsync(_connections[client], _connections[client].Format("DELETE", $"/api/v1/sessions/{session}", $"X-Api-Key: {user.ApiKey}\r\n"), 204, cancel);

    /// <summary>Null on the expected status; otherwise "status code" from the problem details, or the network error.</summary>
    private static async Task<string?> SendAsync(HttpConnection connection, byte[] request, int expected, CancellationToken cancel)
    {
        var answer = await connection.SendAsync(request, cancel);
        if (answer.NetworkError is { } network) return network;
        return answer.Status == expected ? null : $"{answer.Status} {ErrorCode(answer.Body)}";
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

    public void Dispose()
    {
        foreach (var connection in _connections) connection.Dispose();
    }
}

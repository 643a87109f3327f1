using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace LicenseServer.Core.Ldap;

public enum LdapSecurity { None, StartTls, Ldaps }

/// <summary>Where the directory is. Hosts are tried in order; the first that answers is used.</summary>
/// <param name="TrustedCaPem">The CA certificate(s) the server's certificate must chain to; null trusts the system's store.</param>
public sealed record LdapEndpoint(IReadOnlyList<string> Hosts, int Port, LdapSecurity Security, string? TrustedCaPem, TimeSpan Timeout);

/// <summary>A directory error with a sentence for people (Message) and the LDAP result code (-1 when no result came).</summary>
public class LdapException : Exception
{
    public LdapException(string message, int resultCode = -1) : base(message) => ResultCode = resultCode;
    protected LdapException(string message, Exception? inner) : base(message, inner) => ResultCode = -1;

    public int ResultCode { get; }
}

/// <summary>
/// No host could be reached or the TLS handshake failed: Message names the host(s) and the cause in one sentence
/// (connection refused, timed out, certificate not trusted or not made out to the host, StartTLS refused).
/// </summary>
public sealed class LdapUnavailableException(string message, Exception? inner = null) : LdapException(message, inner);

/// <summary>
/// A minimal, fully managed LDAPv3 client (RFC 4511): simple bind and subtree search, in clear, over LDAPS or
/// after StartTLS. One operation at a time; every operation must finish within the endpoint's timeout.
/// </summary>
public sealed class LdapConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly string _server;
    private readonly TimeSpan _timeout;
    private Stream _stream;
    private int _lastMessageId;
    private bool _broken, _disposed;

    private LdapConnection(Socket socket, string server, TimeSpan timeout)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _server = server;
        _timeout = timeout;
    }

    public static async Task<LdapConnection> OpenAsync(LdapEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint.Hosts.Count == 0) throw new LdapUnavailableException("No directory server host is set.");
        var trusted = LdapTls.TrustedCertificates(endpoint.TrustedCaPem);
        var failures = new List<string>();
        Exception? last = null;
        foreach (var host in endpoint.Hosts)
        {
            try
            {
                return await OpenHostAsync(endpoint, host, trusted, cancellationToken);
            }
            catch (HostFailure failure)
            {
                failures.Add(failure.Message);
                last = failure.InnerException;
            }
        }
        throw new LdapUnavailableException($"The directory server could not be reached: {string.Join("; ", failures)}.", last);
    }

    /// <summary>
    /// Simple bind. True on success, false on invalidCredentials (49), and false without sending anything when
    /// the password is empty: that would be an unauthenticated bind, which many servers accept as anonymous (RFC 4513, 5.1.2).
    /// </summary>
    public async Task<bool> BindAsync(string dn, string password, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(password)) return false;
        var id = ++_lastMessageId;
        var request = LdapMessages.Bind(id, dn, password);
        var response = await RunAsync(async token =>
        {
            await SendAsync(request, token);
            return await ReceiveAsync(id, token);
        }, cancellationToken);
        if (response.Operation != LdapMessages.BindResponse) throw Refused($"the sign-in of {dn}", response);
        return response.ResultCode switch
        {
            0 => true,
            49 => false,
            _ => throw Refused($"the sign-in of {dn}", response),
        };
    }

    /// <summary>The most entries one search may answer: what the server asks for (one person, their groups) is far fewer.</summary>
    public const int MaxEntries = 10_000;

    /// <summary>
    /// Subtree search with an RFC 4515 filter (a malformed one throws before anything is sent); with
    /// <paramref name="baseOnly"/>, of the base entry alone. Referrals are ignored; when the size limit (0 = none) is
    /// exceeded, the entries that came are returned. More than <see cref="MaxEntries"/> entries is refused.
    /// </summary>
    public async Task<IReadOnlyList<LdapEntry>> SearchAsync(string baseDn, string filter, IReadOnlyList<string> attributes,
        int sizeLimit = 0, CancellationToken cancellationToken = default, bool baseOnly = false)
    {
        var id = ++_lastMessageId;
        var timeLimit = (int)Math.Ceiling(_timeout.TotalSeconds); // the server gives up when the client would
        var request = LdapMessages.Search(id, baseDn, baseOnly, filter, attributes, sizeLimit, timeLimit);
        var entries = new List<LdapEntry>();
        var done = await RunAsync(async token =>
        {
            await SendAsync(request, token);
            while (true)
            {
                var response = await ReceiveAsync(id, token);
                if (response.Entry is not null)
                {
                    entries.Add(response.Entry);
                    if (entries.Count > MaxEntries)
                        throw new LdapException($"The directory server {_server} answered more than {MaxEntries} entries to one search: narrow the filter or the search base.");
                }
                else if (response.Operation == LdapMessages.SearchResultDone) return response;
            }
        }, cancellationToken);
        return done.ResultCode switch
        {
            0 or 4 => entries, // 4: sizeLimitExceeded
            32 => throw new LdapException(
                $"The search base {baseDn} does not exist on the directory server {_server}, or the bound account may not read it.", 32),
            _ => throw Refused($"the search in {baseDn}", done),
        };
    }

    /// <summary>Says goodbye (UnbindRequest) when the connection is still sound, and closes it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_broken)
        {
            try
            {
                using var deadline = new CancellationTokenSource(_timeout);
                await SendAsync(LdapMessages.Unbind(++_lastMessageId), deadline.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
        }
        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private static async Task<LdapConnection> OpenHostAsync(LdapEndpoint endpoint, string host, X509Certificate2Collection? trusted,
        CancellationToken cancellationToken)
    {
        var server = host.Contains(':') ? $"[{host}]:{endpoint.Port}" : $"{host}:{endpoint.Port}"; // IPv6 in brackets
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(endpoint.Timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        LdapConnection? connection = null;
        var certificate = new LdapTls.CertificateCheck();
        var step = "answer";
        const string handshake = "finish the TLS handshake";
        try
        {
            await socket.ConnectAsync(host, endpoint.Port, deadline.Token);
            connection = new LdapConnection(socket, server, endpoint.Timeout);
            if (endpoint.Security == LdapSecurity.StartTls)
            {
                step = "answer StartTLS";
                var id = ++connection._lastMessageId;
                await connection.SendAsync(LdapMessages.StartTls(id), deadline.Token);
                var response = await connection.ReceiveAsync(id, deadline.Token);
                if (response.ResultCode != 0)
                    throw new HostFailure($"{server} refused StartTLS ({Describe(response)})", null);
            }
            if (endpoint.Security != LdapSecurity.None)
            {
                step = handshake;
                var tls = new SslStream(connection._stream, leaveInnerStreamOpen: false);
                connection._stream = tls;
                await tls.AuthenticateAsClientAsync(LdapTls.Options(host, trusted, certificate), deadline.Token);
            }
            return connection;
        }
        catch (Exception e)
        {
            if (connection is not null) await connection._stream.DisposeAsync();
            socket.Dispose();
            if (e is HostFailure || (e is OperationCanceledException && cancellationToken.IsCancellationRequested)) throw;
            var seconds = $"{endpoint.Timeout.TotalSeconds:0.#} seconds";
            throw new HostFailure(e switch
            {
                OperationCanceledException => $"{server} did not {step} within {seconds}",
                SocketException { SocketErrorCode: SocketError.ConnectionRefused } =>
                    $"{server} refused the connection (is the directory server running on that port?)",
                SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } =>
                    $"{host} is not a known host name",
                SocketException { SocketErrorCode: SocketError.TimedOut } => $"{server} did not answer within {seconds}",
                SocketException s => $"{server} could not be reached ({s.Message})",
                AuthenticationException when certificate.Problem is { } problem => $"{server} {problem}",
                AuthenticationException or IOException when step == handshake =>
                    $"{server} failed the TLS handshake ({e.Message}); is it {(endpoint.Security == LdapSecurity.Ldaps ? "an LDAPS" : "a StartTLS")} port?",
                _ => $"{server} did not {step} ({e.Message})",
            }, e);
        }
    }

    /// <summary>Runs one exchange within the timeout; a timeout or a broken stream leaves the connection unusable.</summary>
    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> exchange, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken) throw new LdapException($"The connection to the directory server {_server} was lost; open a new one.");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            return await exchange(deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or LdapException)
        {
            _broken = true;
            throw e switch
            {
                OperationCanceledException when cancellationToken.IsCancellationRequested => e,
                OperationCanceledException =>
                    new LdapException($"The directory server {_server} did not answer within {_timeout.TotalSeconds:0.#} seconds."),
                EndOfStreamException => new LdapException($"The directory server {_server} closed the connection."),
                LdapException => e,
                _ => new LdapException($"The connection to the directory server {_server} failed: {e.Message}"),
            };
        }
    }

    private async Task SendAsync(byte[] message, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(message, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>The next message for <paramref name="id"/>; answers to earlier, abandoned requests are skipped.</summary>
    private async Task<LdapResponse> ReceiveAsync(int id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var response = await LdapMessages.ReadAsync(_stream, cancellationToken);
            if (response.MessageId == id) return response;
            // Message ID 0 is an unsolicited notification; the only one defined is the notice of disconnection.
            if (response.MessageId == 0) throw new LdapException($"The directory server {_server} ended the connection ({Describe(response)}).");
        }
    }

    private LdapException Refused(string what, LdapResponse response) =>
        new($"The directory server {_server} refused {what}: {Describe(response)}.", response.ResultCode);

    /// <summary>The result code by name, with the server's own words when it gave any.</summary>
    private static string Describe(LdapResponse response)
    {
        var name = response.ResultCode switch
        {
            1 => "operations error", 2 => "protocol error", 3 => "time limit exceeded", 8 => "stronger authentication required",
            10 => "referral to another server",
            13 => "confidentiality required", 34 => "invalid DN syntax", 48 => "inappropriate authentication",
            50 => "insufficient access rights", 51 => "busy", 52 => "unavailable", 53 => "unwilling to perform",
            _ => "error",
        };
        var words = response.Diagnostic.Trim().TrimEnd('.');
        return $"{name}, result code {response.ResultCode}" + (words.Length == 0 ? "" : $": {words}");
    }

    /// <summary>Why one host could not be used, as a clause of the sentence that names them all.</summary>
    private sealed class HostFailure(string clause, Exception? inner) : Exception(clause, inner);
}

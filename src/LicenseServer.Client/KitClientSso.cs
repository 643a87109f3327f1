using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace LicenseServer.Client;

public sealed partial class KitClient
{
    /// <summary>
    /// Single sign-on for a desktop application (RFC 8252): listens on a loopback port, has
    /// <paramref name="openBrowser"/> open the person's browser on the server's sign-in through the company's
    /// OpenID provider, receives the one-time code on the loopback address, and exchanges it, with the PKCE
    /// verifier only this process knows, for the usual bearer token (<see cref="Token"/>). A refusal (a cancelled
    /// sign-in, an unverified email) throws <see cref="KitApiException"/> with the server's sentence.
    /// </summary>
    /// <param name="openBrowser">Opens the address in the browser (or shows it to the person).</param>
    /// <param name="timeout">How long to wait for the browser; 5 minutes by default.</param>
    public async Task<LoginResult> LoginWithSsoAsync(Func<Uri, Task> openBrowser, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        string verifier = Base64Url(RandomNumberGenerator.GetBytes(32)), state = Base64Url(RandomNumberGenerator.GetBytes(16));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        // A socket of its own on a port the system picks: no other process can take the port in between, and no
        // URL reservation is needed (as HttpListener needs on Windows).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var redirect = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/kit-sso/callback";
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(5));
        await openBrowser(new Uri(_http.BaseAddress!, "api/v1/auth/sso/start?" + string.Join('&',
            $"redirect_uri={Uri.EscapeDataString(redirect)}", $"state={state}", $"code_challenge={challenge}", "code_challenge_method=S256")));
        while (true)
        {
            TcpClient browser;
            try
            {
                browser = await listener.AcceptTcpClientAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                cancel.ThrowIfCancellationRequested();
                throw new KitApiException(0, "sso_timeout", "The sign-in in the browser did not finish in time: run the sign-in again.");
            }
            System.Collections.Specialized.NameValueCollection query;
            using (browser)
            {
                var target = await ReadRequestTargetAsync(browser.GetStream(), limit.Token);
                query = System.Web.HttpUtility.ParseQueryString(target is null ? "" : new Uri(new Uri(redirect), target).Query);
                // Another page of this machine may call the port; only the answer to this sign-in counts.
                if (target is null || !target.StartsWith("/kit-sso/callback?", StringComparison.Ordinal) || query["state"] != state)
                {
                    await AnswerAsync(browser.GetStream(), "400 Bad Request", "This is not the sign-in kit started.");
                    continue;
                }
                if (query["error"] is { } error)
                {
                    var sentence = query["error_description"] ?? "The sign-in was refused.";
                    await AnswerAsync(browser.GetStream(), "200 OK", sentence);
                    throw new KitApiException(401, error, sentence);
                }
                await AnswerAsync(browser.GetStream(), "200 OK", "You are signed in. Close this window and return to the application.");
            }
            var dto = await SendAsync<LoginDto>(HttpMethod.Post, "api/v1/auth/sso/token",
                new { code = query["code"] ?? "", codeVerifier = verifier, redirectUri = redirect }, Auth.None, cancel);
            Token = dto.Token;
            return new LoginResult(dto.Token, dto.ExpiresAt, dto.Email, dto.Organizations);
        }
    }

    /// <summary>The path and query of the browser's request ("GET /path?query HTTP/1.1"); null for anything else.</summary>
    private static async Task<string?> ReadRequestTargetAsync(NetworkStream stream, CancellationToken cancel)
    {
        var buffer = new byte[8192];
        var length = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            // The request line is all that is needed; the headers are read up to their end so the browser sees an answer.
            while (length < buffer.Length && !Encoding.ASCII.GetString(buffer, 0, length).Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer.AsMemory(length), deadline.Token);
                if (read == 0) break;
                length += read;
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return null;
        }
        var line = Encoding.ASCII.GetString(buffer, 0, length).Split("\r\n")[0].Split(' ');
        return line is ["GET", var target, _] && target.StartsWith('/') ? target : null;
    }

    private static async Task AnswerAsync(NetworkStream stream, string status, string sentence)
    {
        var page = Encoding.UTF8.GetBytes($"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kit License Server</title></head><body><p>{WebUtility.HtmlEncode(sentence)}</p></body></html>");
        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {page.Length}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n");
        await stream.WriteAsync(head);
        await stream.WriteAsync(page);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

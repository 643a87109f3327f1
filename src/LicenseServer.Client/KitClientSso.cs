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
        var port = FreeLoopbackPort();
        var redirect = $"http://127.0.0.1:{port}/kit-sso/callback";
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/kit-sso/");
        listener.Start();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(5));
        await using var stop = limit.Token.Register(listener.Stop);
        await openBrowser(new Uri(_http.BaseAddress!, "api/v1/auth/sso/start?" + string.Join('&',
            $"redirect_uri={Uri.EscapeDataString(redirect)}", $"state={state}", $"code_challenge={challenge}", "code_challenge_method=S256")));
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                cancel.ThrowIfCancellationRequested();
                throw new KitApiException(0, "sso_timeout", "The sign-in in the browser did not finish in time: run the sign-in again.");
            }
            var query = System.Web.HttpUtility.ParseQueryString(context.Request.Url?.Query ?? "");
            // Another page of this machine may call the port; only the answer to this sign-in counts.
            if (context.Request.Url?.AbsolutePath != "/kit-sso/callback" || query["state"] != state)
            {
                await AnswerAsync(context, 400, "This is not the sign-in kit started.");
                continue;
            }
            if (query["error"] is { } error)
            {
                var sentence = query["error_description"] ?? "The sign-in was refused.";
                await AnswerAsync(context, 200, sentence);
                throw new KitApiException(401, error, sentence);
            }
            await AnswerAsync(context, 200, "You are signed in. Close this window and return to the application.");
            var dto = await SendAsync<LoginDto>(HttpMethod.Post, "api/v1/auth/sso/token",
                new { code = query["code"] ?? "", codeVerifier = verifier, redirectUri = redirect }, Auth.None, cancel);
            Token = dto.Token;
            return new LoginResult(dto.Token, dto.ExpiresAt, dto.Email, dto.Organizations);
        }
    }

    private static async Task AnswerAsync(HttpListenerContext context, int status, string sentence)
    {
        var page = Encoding.UTF8.GetBytes($"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kit License Server</title></head><body><p>{WebUtility.HtmlEncode(sentence)}</p></body></html>");
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.ContentLength64 = page.Length;
        await context.Response.OutputStream.WriteAsync(page);
        context.Response.Close();
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

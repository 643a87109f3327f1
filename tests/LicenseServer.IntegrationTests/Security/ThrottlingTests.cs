using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Sign-in against guessing: 5 failures in 15 minutes per (address, email), and at most 100 an hour per email
/// whatever the address (each client here connects from its own loopback address, so the server sees
/// many). Neither the answers nor their timing tell whether an email has an account, on the sign-in
/// page, in the client API, and on the forgot-password page.
/// </summary>
public sealed partial class ThrottlingTests : SecurityTest
{
    private const string Known = "victim@acme.test";
    private const string Unknown = "ghost@acme.test";
    private int _nextAddress;
    private readonly List<IDisposable> _owned = [];

    [TearDown]
    public void DisposeOwned()
    {
        foreach (var owned in _owned) owned.Dispose();
        _owned.Clear();
    }

    /// <summary>A browser on an address of its own: 127.0.x.y.</summary>
    private ConsoleClient FromNewAddress()
    {
        var n = Interlocked.Increment(ref _nextAddress);
        var client = new ConsoleClient(Server.BaseUrl, new IPAddress([127, 0, (byte)(1 + n / 250), (byte)(1 + n % 250)]));
        _owned.Add(client);
        return client;
    }

    /// <summary>Failures already counted against an email, from as many addresses, <paramref name="ago"/> before now.</summary>
    private async Task PriorFailuresAsync(string email, int count, TimeSpan ago)
    {
        await using var db = Db();
        await db.ExecuteAsync("""
            INSERT INTO sign_in_failure (address, email, failed_at)
            SELECT '10.9.' || (n / 250) || '.' || (n % 250), @email, now() - @ago FROM generate_series(1, @count) n
            """, new { email, count, ago });
    }

    [Test]
    public async Task An_account_takes_at_most_100_failures_an_hour_from_any_addresses_known_or_not_then_it_lifts()
    {
        await CreateUserAsync(Known);
        foreach (var email in new[] { Known, Unknown })
        {
            await PriorFailuresAsync(email, AccountService.MaxAccountFailures - 5, TimeSpan.FromMinutes(30));
            for (var i = 0; i < 5; i++)
                using (var failed = await FromNewAddress().SignInAsync(email, "guess " + i))
                    Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"{email}: failure {96 + i} of the hour is still checked");
        }
        using var knownRefused = await FromNewAddress().SignInAsync(Known, Password);
        using var unknownRefused = await FromNewAddress().SignInAsync(Unknown, Password);
        Assert.That(knownRefused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "the 101st attempt waits, from an address never seen, with the right password");
        Assert.That(unknownRefused.StatusCode, Is.EqualTo(knownRefused.StatusCode), "an email without an account is throttled alike");
        Assert.That(Answer(await ConsoleClient.TextOf(unknownRefused), Unknown), Is.EqualTo(Answer(await ConsoleClient.TextOf(knownRefused), Known)));
        Assert.That(knownRefused.Headers.RetryAfter!.Delta!.Value.TotalMinutes, Is.InRange(29, 31), "until the oldest failure of the hour ages out");
        Assert.That(unknownRefused.Headers.RetryAfter!.Delta!.Value.TotalMinutes, Is.InRange(29, 31));
        using (var api = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock))
        {
            var refused = Assert.ThrowsAsync<KitApiException>(() => api.LoginAsync(Known, Password))!;
            Assert.That((refused.Status, refused.Code), Is.EqualTo((429, "too_many_attempts")), "the client API shares the cap");
        }
        using (var other = await FromNewAddress().SignInAsync(AdminEmail, Password))
            Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "other accounts are not affected");

        Clock.Offset = TimeSpan.FromMinutes(31);
        using (var lifted = await FromNewAddress().SignInAsync(Known, Password))
            Assert.That(lifted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "once the old failures are over an hour old, the account signs in");
    }

    [Test]
    public async Task Parallel_guesses_cannot_slip_past_either_limit()
    {
        await CreateUserAsync(Known);
        await PriorFailuresAsync(Known, AccountService.MaxAccountFailures - 5, TimeSpan.FromMinutes(10));
        var spread = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => StatusAsync(FromNewAddress(), Known, "guess " + i)));
        Assert.That(spread.Count(s => s == HttpStatusCode.Unauthorized), Is.EqualTo(5), "20 addresses at once: 5 more checks reach the cap of 100");
        Assert.That(spread.Count(s => s == HttpStatusCode.TooManyRequests), Is.EqualTo(15));

        var one = FromNewAddress();
        await one.TokenAsync("/Account/SignIn"); // the antiforgery cookie first, or parallel first visits would each set their own
        var single = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => StatusAsync(one, Unknown, "guess " + i)));
        Assert.That(single.Count(s => s == HttpStatusCode.Unauthorized), Is.EqualTo(AccountService.MaxFailures), "one address at once: 5 checks");
        Assert.That(single.Count(s => s == HttpStatusCode.TooManyRequests), Is.EqualTo(12 - AccountService.MaxFailures));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM sign_in_failure WHERE email = @Known AND failed_at > now() - interval '1 hour'", new { Known }),
            Is.EqualTo(AccountService.MaxAccountFailures));

        static async Task<HttpStatusCode> StatusAsync(ConsoleClient client, string email, string password)
        {
            using var response = await client.SignInAsync(email, password);
            return response.StatusCode;
        }
    }

    // Alone (see Parallelism.cs): it compares how long answers take, which other tests running would blur.
    [Test, NonParallelizable]
    public async Task A_wrong_password_and_an_unknown_email_get_the_same_answer_in_the_same_time()
    {
        await CreateUserAsync(Known);
        using var warm = await FromNewAddress().SignInAsync(Known, "warm up");
        var known = new List<double>();
        var unknown = new List<double>();
        string? knownAnswer = null, unknownAnswer = null;
        HttpResponseMessage? knownResponse = null, unknownResponse = null;
        for (var round = 0; round < 7; round++)
        {
            // Interleaved, each from a fresh address: neither limit is reached, and load on the machine falls on both alike.
            foreach (var (email, times) in new[] { (Known, known), (Unknown, unknown) })
            {
                var client = FromNewAddress();
                await client.TokenAsync("/Account/SignIn");
                var watch = Stopwatch.StartNew();
                var response = await client.SignInAsync(email, "not the password");
                times.Add(watch.Elapsed.TotalMilliseconds);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
                if (email == Known) (knownResponse, knownAnswer) = (response, Answer(await ConsoleClient.TextOf(response), Known));
                else (unknownResponse, unknownAnswer) = (response, Answer(await ConsoleClient.TextOf(response), Unknown));
            }
        }
        Assert.That(unknownAnswer, Is.EqualTo(knownAnswer), "the same page, word for word");
        Assert.That(HeaderNames(unknownResponse!), Is.EqualTo(HeaderNames(knownResponse!)), "the same headers");
        double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        var (k, u) = (Median(known), Median(unknown));
        TestContext.Out.WriteLine($"median sign-in: known email {k:0} ms, unknown email {u:0} ms");
        Assert.That(Math.Abs(k - u), Is.LessThan(0.35 * Math.Max(k, u)), $"known {k:0} ms against unknown {u:0} ms: both cost one PBKDF2 check");

        using var api = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        var wrong = Assert.ThrowsAsync<KitApiException>(() => api.LoginAsync(Known, "not the password"))!;
        var ghost = Assert.ThrowsAsync<KitApiException>(() => api.LoginAsync(Unknown, "not the password"))!;
        Assert.That((ghost.Status, ghost.Code, ghost.Message), Is.EqualTo((wrong.Status, wrong.Code, wrong.Message)));
    }

    // Alone (see Parallelism.cs): it times the answers (under 3 s while the mail server hangs).
    [Test, NonParallelizable]
    public async Task Forgot_password_answers_the_same_at_once_for_every_email_even_when_the_mail_server_hangs()
    {
        // A mail server that accepts the connection and never says a word: sending waits for its timeout.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new System.Collections.Concurrent.ConcurrentBag<TcpClient>();
        _ = Task.Run(async () =>
        {
            try { while (true) held.Add(await silent.AcceptTcpClientAsync()); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        });
        try
        {
            await UseMailDevForServerAsync(((IPEndPoint)silent.LocalEndpoint).Port);

            var answers = new Dictionary<string, (string Text, double Ms)>();
            foreach (var email in new[] { AdminEmail, Unknown, AdminEmail, Unknown })
            {
                var visitor = FromNewAddress();
                var watch = Stopwatch.StartNew();
                using var response = await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = email });
                var ms = watch.Elapsed.TotalMilliseconds;
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                answers[email] = (Answer(await ConsoleClient.TextOf(response), email), Math.Max(ms, answers.GetValueOrDefault(email).Ms));
            }
            Assert.That(answers[Unknown].Text, Is.EqualTo(answers[AdminEmail].Text), "the same page, word for word");
            Assert.That(answers[AdminEmail].Ms, Is.LessThan(3000), "an account's request does not wait for its mail");

            // The link is still made, in the background.
            await using var db = Db();
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (await db.ExecuteScalarAsync<long>("SELECT count(*) FROM password_reset") < 2 && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM password_reset"), Is.EqualTo(2), "one link per request for the account, none for the unknown email");
        }
        finally
        {
            silent.Stop();
            foreach (var client in held) client.Dispose();
        }
    }

    /// <summary>The page with what differs by nature taken out: antiforgery tokens, and the email typed, echoed in the form.</summary>
    private static string Answer(string html, string email) =>
        TokenValue().Replace(html, "TOKEN").Replace(email, "EMAIL", StringComparison.OrdinalIgnoreCase);

    private static string[] HeaderNames(HttpResponseMessage response) =>
        [.. response.Headers.Select(h => h.Key).Concat(response.Content.Headers.Select(h => h.Key)).Where(h => h != "Date").Order(StringComparer.OrdinalIgnoreCase)];

    [GeneratedRegex("value=\"CfDJ[^\"]+\"")]
    private static partial Regex TokenValue();
}

using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Bench.Data;
using LicenseServer.Bench.Server;
using LicenseServer.Web.Accounts;
using Npgsql;

namespace LicenseServer.Bench.Pages;

/// <summary>One console page, fetched again and again by one signed-in browser-like client.</summary>
public sealed record PageResult(string Name, string Path, int Requests, double P50Ms, double P95Ms, double MaxMs, long Bytes, int Errors);

/// <summary>
/// The console at a large customer's scale: an organization of its own with 10,000 live sessions of the floating
/// product on 2,000 registered machines, and 1,000 members who each hold the per-user product on two machines and
/// are assigned the floating one.
/// Its License Management pages (one per product) and its Users page are fetched in turn by one client signed in
/// as the organization's Owner; each page's time is from the request to the last byte of the answer, over
/// loopback, so it is the server's time and a little more.
/// </summary>
public static partial class ConsolePages
{
    public const int Sessions = 10_000;
    public const int Members = 1_000;
    public const int Machines = 2_000;
    public const double P95TargetMs = 150;
    public const long BytesTarget = 200 * 1024;
    private const string Process = "bench-console";

    /// <summary>Writes the organization and its data; returns its id and its Owner's email (the bench users' password).</summary>
    public static async Task<(long Organization, string Owner)> LoadAsync(NpgsqlDataSource db, BenchDataSet data)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var admin = await connection.ExecuteScalarAsync<long>("SELECT id FROM public.user_account WHERE is_default_account", transaction: tx);
        var org = await connection.ExecuteScalarAsync<long>(
            "INSERT INTO organization (name, created_by) VALUES ('Console organization', @admin) RETURNING id", new { admin }, tx);
        var users = (await connection.QueryAsync<long>("""
            INSERT INTO public.user_account (email, password, password_encrypted, password_changed_at)
            SELECT 'console-user-' || lpad(n::text, 4, '0') || '@bench.example', @hash, true, now() FROM generate_series(1, @members) AS n ORDER BY n
            RETURNING id
            """, new { hash = AccountService.Hash(data.Password), members = Members }, tx)).Order().ToArray();
        await connection.ExecuteAsync("""
            INSERT INTO organization_member (organization_id, user_id, role)
            SELECT @org, u, CASE WHEN u = @owner THEN 'owner' ELSE 'member' END FROM unnest(@users) AS u;
            INSERT INTO product_allocation (organization_id, product_code, quota) VALUES (@org, @floating, @sessions), (@org, @perUser, @members);
            INSERT INTO license_assignment (organization_id, product_code, user_id, assigned_by) SELECT @org, @perUser, u, @admin FROM unnest(@users) AS u;
            INSERT INTO floating_assignment (organization_id, product_code, user_id, assigned_by) SELECT @org, @floating, u, @admin FROM unnest(@users) AS u;
            INSERT INTO machine_activation (organization_id, product_code, user_id, machine_id, lease_expires_at)
            SELECT @org, @perUser, u, 'console-desk-' || lpad(n::text, 4, '0') || '-' || m, now() + interval '7 days'
            FROM unnest(@users) WITH ORDINALITY AS x (u, n) CROSS JOIN generate_series(1, 2) AS m;
            INSERT INTO floating_machine (organization_id, product_code, machine_id)
            SELECT @org, @floating, 'console-runner-' || lpad(n::text, 4, '0') FROM generate_series(0, @machines - 1) AS n;
            """, new
        {
            org, admin, users, owner = users[0], floating = KitServerProcess.FloatingProduct, perUser = KitServerProcess.PerUserProduct,
            sessions = Sessions, members = Members, machines = Machines,
        }, tx);
        await tx.CommitAsync();
        await LiveSessions.AddSpreadAsync(db, org, users, "console-runner-", Machines, Sessions, Process);
        return (org, "console-user-0001@bench.example");
    }

    public static async Task<IReadOnlyList<PageResult>> MeasureAsync(string baseUrl, long org, string owner, string password, int rounds, CancellationToken cancel)
    {
        using var http = new HttpClient(new SocketsHttpHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
        var signIn = await http.GetStringAsync("/Account/SignIn", cancel);
        using var signedIn = await http.PostAsync("/Account/SignIn", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = owner, ["password"] = password, ["__RequestVerificationToken"] = TokenPattern().Match(signIn).Groups[1].Value,
        }), cancel);
        if (signedIn.StatusCode != HttpStatusCode.Redirect) throw new InvalidOperationException($"The console owner could not sign in: {(int)signedIn.StatusCode}");
        (string Name, string Path)[] pages =
        [
            ($"License Management, {KitServerProcess.FloatingProduct} ({Members:N0} licensed users, {Sessions:N0} sessions, {Machines:N0} machines)", $"/Organizations/{org}/Licenses?product={KitServerProcess.FloatingProduct}"),
            ($"License Management, {KitServerProcess.PerUserProduct} ({Members:N0} licensed users, {2 * Members:N0} machines)", $"/Organizations/{org}/Licenses?product={KitServerProcess.PerUserProduct}"),
            ($"Users ({Members:N0} members)", $"/Organizations/{org}/Users"),
        ];
        var times = pages.Select(_ => new List<double>()).ToArray();
        var bytes = new long[pages.Length];
        var errors = new int[pages.Length];
        for (var round = -2; round < rounds; round++) // two unmeasured rounds: the pages' first views compile them
            for (var i = 0; i < pages.Length; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(pages[i].Path, cancel);
                var body = await response.Content.ReadAsByteArrayAsync(cancel);
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (round < 0) continue;
                if (response.StatusCode != HttpStatusCode.OK) errors[i]++;
                times[i].Add(elapsed);
                bytes[i] = Math.Max(bytes[i], body.Length);
            }
        return pages.Select((p, i) =>
        {
            var sorted = times[i].Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return new PageResult(p.Name, p.Path, sorted.Length, Math.Round(At(0.5), 2), Math.Round(At(0.95), 2), Math.Round(sorted[^1], 2), bytes[i], errors[i]);
        }).ToList();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}

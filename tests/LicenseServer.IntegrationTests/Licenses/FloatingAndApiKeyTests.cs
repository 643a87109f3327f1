using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

public partial class FloatingAndApiKeyTests : LicenseTest
{
    [Test]
    public async Task Live_sessions_are_listed_and_an_admin_can_end_one_which_frees_its_seat()
    {
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        Guid live = Guid.NewGuid(), stale = Guid.NewGuid();
        await using (var db = Db())
        {
            await db.ExecuteAsync("""
                INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, expires_at)
                VALUES (@live, @Org, 'KRE', @userId, 'CI-01', '4242', now() + interval '5 minutes'),
                       (@stale, @Org, 'KRE', @userId, 'CI-02', '77', now() - interval '1 second');
                UPDATE product_allocation SET floating_live = floating_live + 2 WHERE organization_id = @Org AND product_code = 'KRE';
                """, new { live, stale, Org, userId });
        }
        var page = await Admin.GetTextAsync(Page("KRE"));
        Assert.That(page, Does.Contain("<code>CI-01</code>").And.Contain("4242").And.Not.Contain("CI-02"), "a session past its lease is gone at once");
        Assert.That(page, Does.Contain("<td data-testid=\"in-use\">1</td>"));

        using (var end = await Admin.PostFormAsync(Page("KRE") + "&handler=EndSession", new Dictionary<string, string> { ["confirmed"] = "true", ["sessionId"] = live.ToString() }, tokenPage: Page("KRE")))
            Assert.That(end.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("<td data-testid=\"in-use\">0</td>").And.Not.Contain("CI-01"));
        using (var again = await Admin.PostFormAsync(Page("KRE") + "&handler=EndSession", new Dictionary<string, string> { ["confirmed"] = "true", ["sessionId"] = live.ToString() }, tokenPage: Page("KRE")))
            Assert.That(await ConsoleClient.TextOf(again), Does.Contain("has ended already"));
    }

    [Test]
    public async Task An_API_key_is_shown_once_stored_hashed_listed_by_prefix_and_revocable_by_its_owner_only()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        await AddMemberAsync(Org, "other@acme.test");
        var runner = await SignedInAsync("runner@acme.test");
        var keys = $"/Organizations/{Org}/ApiKeys";
        using var created = await runner.PostFormAsync(keys + "?handler=Create", new Dictionary<string, string> { ["name"] = "pipeline-7" }, tokenPage: keys);
        var key = KeyPattern().Match(await created.Content.ReadAsStringAsync()).Value;
        Assert.That(key, Has.Length.EqualTo(56));

        var list = await runner.GetTextAsync(keys);
        Assert.That(list, Does.Contain($"kit_{key[4..12]}_").And.Contain("pipeline-7").And.Not.Contain(key), "the key is never shown again");
        long keyId;
        await using (var db = Db())
        {
            var stored = await db.QuerySingleAsync<(long Id, byte[] Hash)>("SELECT id, key_hash FROM api_key");
            keyId = stored.Id;
            Assert.That(stored.Hash, Is.EqualTo(SHA256.HashData(Encoding.UTF8.GetBytes(key))));
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM api_key WHERE key_hash::text LIKE '%' || @key || '%'", new { key }), Is.Zero);
        }

        var other = await SignedInAsync("other@acme.test");
        using (var foreign = await other.PostFormAsync(keys + "?handler=Revoke", new Dictionary<string, string> { ["confirmed"] = "true", ["keyId"] = keyId.ToString() }, tokenPage: keys))
            Assert.That(await ConsoleClient.TextOf(foreign), Does.Contain("does not exist or is revoked already"));
        Assert.That(await other.GetTextAsync(keys), Does.Not.Contain("pipeline-7"), "members see only their own keys");

        using (var revoked = await runner.PostFormAsync(keys + "?handler=Revoke", new Dictionary<string, string> { ["confirmed"] = "true", ["keyId"] = keyId.ToString() }, tokenPage: keys))
            Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await runner.GetTextAsync(keys), Does.Contain("Revoked"));
        using (var empty = await runner.PostFormAsync(keys + "?handler=Create", new Dictionary<string, string> { ["name"] = "  " }, tokenPage: keys))
            Assert.That(await ConsoleClient.TextOf(empty), Does.Contain("Name the key"));
    }

    [GeneratedRegex("kit_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")]
    private static partial Regex KeyPattern();
}

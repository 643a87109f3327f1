using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Every destructive console action asks first: posted without <c>confirmed=true</c> (a stray click, a replayed
/// or half-made request) it shows what it would do, in numbers, and changes nothing.
/// </summary>
public sealed class ConfirmationTests : SecurityTest
{
    private static readonly string[] Destructive =
    [
        "/Account/Licenses Deactivate", "/Admin/Plugins Delete", "/Admin/Users Delete", "/Admin/Users Disable", "/Admin/Users OneTimePassword",
        "/Organizations/{orgId:long}/ApiKeys Revoke", "/Organizations/{orgId:long}/Licenses Deactivate", "/Organizations/{orgId:long}/Licenses DisableMachine",
        "/Organizations/{orgId:long}/Licenses EndSession", "/Organizations/{orgId:long}/Licenses RemoveMachine", "/Organizations/{orgId:long}/Licenses Transfer",
        "/Organizations/{orgId:long}/Licenses Unassign", "/Organizations/{orgId:long}/Licenses/Bulk Recall", "/Organizations/{orgId:long}/Plugins Delete",
        "/Organizations/{orgId:long}/Teams Delete", "/Organizations/{orgId:long}/Teams/{teamId:long} RemoveMember", "/Organizations/{orgId:long}/Users Remove",
        "/Organizations/{orgId:long}/Users Revoke", "/Organizations/{orgId:long}/Users/{userId:long} Recall",
    ];

    [Test]
    public async Task A_destructive_post_without_its_confirmation_says_what_it_would_do_and_changes_nothing()
    {
        await BuildWorldAsync();
        var handlers = (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.IsPost && h.Parameters.Any(p => p.Name == "confirmed")).ToList();
        Assert.That(handlers.Select(h => $"{h.Route} {h.Name}").Order(StringComparer.Ordinal), Is.EqualTo(Destructive));
        var before = await SnapshotAsync();
        foreach (var handler in handlers)
        {
            // An API key is revoked, and a machine deactivated on My licenses, by its owner only.
            var client = handler.Route is "/Account/Licenses" || handler.ModelType.Name == "ApiKeysModel" ? W.MemberClient : Admin;
            var url = handler.Url(VictimRoute, ProductQuery(handler));
            var fields = ValidFields(handler).Where(f => f.Key != "confirmed").ToList();
            using var response = await client.PostFormAsync(url, fields, tokenPage: url.Split("handler=")[0].TrimEnd('?', '&'));
            var html = await MainOf(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"{handler}: {html}");
            Assert.That(html, Does.Contain("data-testid=\"confirm\"").And.Contain("name=\"confirmed\" value=\"true\""), handler.ToString());
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "nothing happens before the confirmation");
    }

    [Test]
    public async Task Removing_a_member_says_in_numbers_what_it_takes_and_happens_once_confirmed()
    {
        await BuildWorldAsync();
        var users = $"/Organizations/{W.Victim}/Users";
        using (var asked = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["userId"] = $"{W.MemberId}" }, tokenPage: users))
        {
            var text = await ConsoleClient.TextOf(asked);
            Assert.That(text, Does.Contain($"Remove {VictimMember} from Victim Corp?"));
            Assert.That(text, Does.Contain("Recalls 2 licenses, deactivates 1 machine, ends 1 session, revokes 1 API key and takes them out of 1 team."));
        }
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @Victim AND user_id = @MemberId", W), Is.EqualTo(1));

        using (var confirmed = await Admin.PostFormAsync(users + "?handler=Remove",
                   new Dictionary<string, string> { ["userId"] = $"{W.MemberId}", ["confirmed"] = "true" }, tokenPage: users))
            Assert.That(confirmed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @Victim AND user_id = @MemberId", W), Is.Zero);
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM api_key WHERE organization_id = @Victim AND user_id = @MemberId AND revoked_at IS NULL", W), Is.Zero);

        using var again = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["userId"] = $"{W.MemberId}" }, tokenPage: users);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(again), Does.Contain("That user is not a member of this organization."));
    }
}

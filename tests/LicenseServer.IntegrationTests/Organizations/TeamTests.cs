using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Organizations;

public class TeamTests : ConsoleTest
{
    private long _org;
    private string Teams => $"/Organizations/{_org}/Teams";

    [SetUp]
    public async Task CreateOrganization() => _org = await CreateOrganizationAsync(Admin, "ACME QA");

    private async Task<HttpResponseMessage> PostAsync(string path, Dictionary<string, string> fields) =>
        await Admin.PostFormAsync(path, fields, tokenPage: Teams);

    [Test]
    public async Task Create_rename_fill_empty_and_delete_a_team()
    {
        await AddMemberAsync(_org, "dev@acme.test");
        using (var created = await PostAsync(Teams + "?handler=Create", new() { ["name"] = "QA" }))
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        long teamId;
        await using (var db = Db()) teamId = await db.ExecuteScalarAsync<long>("SELECT id FROM team WHERE organization_id = @_org", new { _org });
        var team = $"{Teams}/{teamId}";

        using (var duplicate = await PostAsync(Teams + "?handler=Create", new() { ["name"] = "qa" }))
            Assert.That(await ConsoleClient.TextOf(duplicate), Does.Contain("A team named \"qa\" exists already."));
        using (var renamed = await PostAsync(team + "?handler=Rename", new() { ["name"] = "Quality" }))
            Assert.That(renamed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var added = await PostAsync(team + "?handler=AddMember", new() { ["email"] = "DEV@acme.test" }))
            Assert.That(added.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var twice = await PostAsync(team + "?handler=AddMember", new() { ["email"] = "dev@acme.test" }))
            Assert.That(await ConsoleClient.TextOf(twice), Does.Contain("is in this team already"));
        using (var stranger = await PostAsync(team + "?handler=AddMember", new() { ["email"] = "stranger@acme.test" }))
            Assert.That(await ConsoleClient.TextOf(stranger), Does.Contain("is not a member of this organization"));
        Assert.That(await Admin.GetTextAsync(team), Does.Contain("Quality").And.Contain("dev@acme.test"));

        long devId;
        await using (var db = Db()) devId = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = 'dev@acme.test'");
        using (var asked = await PostAsync(team + "?handler=RemoveMember", new() { ["userId"] = devId.ToString() }))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Remove dev@acme.test from the team Quality?").And.Contain("Their licenses, sessions and membership"));
        Assert.That(await Admin.GetTextAsync(team), Does.Contain("dev@acme.test"), "nothing changes before the confirmation");
        using (var removed = await PostAsync(team + "?handler=RemoveMember", new() { ["userId"] = devId.ToString(), ["confirmed"] = "true" }))
            Assert.That(removed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var deleted = await PostAsync(Teams + "?handler=Delete", new() { ["confirmed"] = "true", ["teamId"] = teamId.ToString() }))
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM team"), Is.Zero);
        Assert.That(await check.QueryAsync<string>("SELECT action FROM audit_event WHERE organization_id = @_org AND action LIKE 'team.%' ORDER BY id", new { _org }),
            Is.EqualTo(new[] { "team.created", "team.renamed", "team.member_added", "team.member_removed", "team.deleted" }));
    }

    [Test]
    public async Task Removing_a_member_from_the_organization_removes_them_from_its_teams()
    {
        var devId = await AddMemberAsync(_org, "dev@acme.test");
        await using var db = Db();
        var teamId = await db.ExecuteScalarAsync<long>("INSERT INTO team (organization_id, name) VALUES (@_org, 'QA') RETURNING id", new { _org });
        await db.ExecuteAsync("INSERT INTO team_member (team_id, user_id) VALUES (@teamId, @devId)", new { teamId, devId });
        var users = $"/Organizations/{_org}/Users";
        using (var removed = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = devId.ToString() }, tokenPage: users))
            Assert.That(removed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM team_member"), Is.Zero);
    }

    [Test]
    public async Task Another_organizations_team_cannot_be_reached_through_this_one()
    {
        await LetAnyoneCreateOrganizationsAsync();
        await CreateUserAsync("other-owner@acme.test");
        var otherOwner = await SignedInAsync("other-owner@acme.test");
        var otherOrg = await CreateOrganizationAsync(otherOwner, "Other");
        long foreignTeam;
        await using (var db = Db()) foreignTeam = await db.ExecuteScalarAsync<long>("INSERT INTO team (organization_id, name) VALUES (@otherOrg, 'Theirs') RETURNING id", new { otherOrg });

        using (var view = await Admin.GetAsync($"{Teams}/{foreignTeam}"))
            Assert.That(view.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        using (var delete = await PostAsync(Teams + "?handler=Delete", new() { ["confirmed"] = "true", ["teamId"] = foreignTeam.ToString() }))
            Assert.That(await ConsoleClient.TextOf(delete), Does.Contain("does not exist in this organization"));
        using (var rename = await PostAsync($"{Teams}/{foreignTeam}?handler=Rename", new() { ["name"] = "Mine" }))
            Assert.That(rename.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<string>("SELECT name FROM team WHERE id = @foreignTeam", new { foreignTeam }), Is.EqualTo("Theirs"));
    }
}

using System.Net;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Accounts;

/// <summary>The server's own audit: sign-ins with their address and why a refused one was refused; nothing typed that matches no account.</summary>
public class ServerAuditTests : ConsoleTest
{
    [Test]
    public async Task Sign_ins_that_succeed_and_fail_are_in_the_server_audit_with_their_address_and_never_the_text_of_an_unknown_email()
    {
        await CreateUserAsync("ann@acme.test");
        using (var wrong = NewClient()) using (await wrong.SignInAsync("ann@acme.test", "not her password")) { }
        using (var unknown = NewClient()) using (await unknown.SignInAsync("correct-horse-battery@staple.test", "whatever it is")) { }
        using (var right = NewClient()) using (await right.SignInAsync("ann@acme.test", Password)) { }

        var page = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=account."));
        Assert.That(page, Does.Contain("account.sign_in_failed").And.Contain("wrong password").And.Contain("no account has this email"));
        Assert.That(page, Does.Contain("account.signed_in").And.Contain("127.0.0.1"));
        Assert.That(page, Does.Not.Contain("correct-horse-battery"), "text that matches no account may be a password typed in the wrong field");
        Assert.That(page, Does.Not.Contain("organization.created"), "an organization's entries are in its own log");

        using var csv = await Admin.GetAsync("/Admin/Audit?handler=Csv&action=account.&subject=ann");
        var text = await csv.Content.ReadAsStringAsync();
        Assert.That(csv.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/csv"));
        Assert.That(text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3), "the header, the failure and the sign-in of ann");

        var ann = await SignedInAsync("ann@acme.test");
        using var refused = await ann.GetAsync("/Admin/Audit");
        Assert.That(refused.StatusCode, Is.Not.EqualTo(HttpStatusCode.OK), "the server audit is for the server admin");
    }

    [Test]
    public async Task All_organizations_lists_owners_members_and_seats_against_shares_and_finds_an_owner_by_email()
    {
        var acme = await CreateOrganizationAsync(Admin, "ACME QA");
        await AddMemberAsync(acme, "dev@acme.test");
        await CreateUserAsync("owner@globex.test");
        var globex = await CreateOrganizationAsync(Admin, "Globex");
        await AddMemberAsync(globex, "owner@globex.test", role: "owner");
        // ACME QA, the first organization, holds every seat: 4 of them move to Globex.
        foreach (var (org, quota) in new[] { (acme, "6"), (globex, "4") })
            using (await Admin.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = $"{org}", ["product"] = "KSE", ["quota"] = quota })) { }

        var all = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Organizations"));
        Assert.That(all, Does.Contain($"ACME QA ({acme})").And.Contain($"Globex ({globex})"));
        Assert.That(all, Does.Contain($"{AdminEmail}, owner@globex.test"), "Globex's owners");
        Assert.That(all, Does.Contain("aria-label=\"KSE seats in use of Globex's share\"").And.Contain("0 of 4"));

        var found = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Organizations?orgs-q=owner%40globex"));
        Assert.That(found, Does.Contain($"Globex ({globex})").And.Not.Contain($"ACME QA ({acme})"));
        Assert.That(found, Does.Contain("1 matching “owner@globex”"));
    }
}

using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// A new server has licenses to hand out at once: its first organization receives every seat that no organization
/// holds yet; the ones after it start with none, until the server admin moves seats under All licenses.
/// </summary>
public sealed class FirstRunTests : ConsoleTest
{
    [Test]
    public async Task The_first_organization_receives_every_unshared_seat_and_the_next_one_none()
    {
        Assert.That(await Admin.GetTextAsync("/"), Does.Contain("No organization exists yet").And.Contain("receives every seat of the license"));
        var first = await CreateOrganizationAsync(Admin, "First Co");
        var second = await CreateOrganizationAsync(Admin, "Second Co");
        await using (var db = Db())
        {
            var shares = (await db.QueryAsync<(string, string, int)>("""
                SELECT o.name, a.product_code, a.quota FROM product_allocation a JOIN organization o ON o.id = a.organization_id ORDER BY o.id, a.product_code
                """)).ToList();
            Assert.That(shares, Is.EqualTo(new[] { ("First Co", "KRE", 5), ("First Co", "KSE", 10) }), "the license holds KSE x10 and KRE x5; the second gets none");
            Assert.That(await db.QueryAsync<string>("SELECT subject || ' ' || details FROM audit_event WHERE action = 'license.allocated' ORDER BY id"),
                Is.EqualTo(new[] { "KRE 5 seats (every seat, to the first organization)", "KSE 10 seats (every seat, to the first organization)" }));
        }
        var dashboard = await Admin.GetTextAsync("/");
        Assert.That(dashboard, Does.Not.Contain("data-testid=\"unshared-KSE\"").And.Not.Contain("No organization exists yet"));
        Assert.That(await Admin.GetTextAsync($"/Organizations/{first}/Licenses?product=KSE"), Does.Contain("<td data-testid=\"quota\">10</td>"));

        // The server admin moves seats as before: lower the first, then give them to the second.
        using (var lowered = await Admin.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = $"{first}", ["product"] = "KSE", ["quota"] = "6" }))
            Assert.That(lowered.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Redirect));
        using (var given = await Admin.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = $"{second}", ["product"] = "KSE", ["quota"] = "4" }))
            Assert.That(given.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Redirect), await ConsoleClient.TextOf(given));
    }

    [Test]
    public async Task Where_anyone_may_create_organizations_the_first_one_made_by_someone_else_gets_no_seat()
    {
        await LetAnyoneCreateOrganizationsAsync();
        await CreateUserAsync("eager@acme.test");
        var eager = await SignedInAsync("eager@acme.test");
        await CreateOrganizationAsync(eager, "Eager Co");
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM product_allocation"), Is.Zero,
            "a signed-in user does not take the whole license by being first; the server admin shares seats");
    }
}

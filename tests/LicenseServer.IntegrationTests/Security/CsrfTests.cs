using System.Net;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Cross-site request forgery: a page elsewhere makes the signed-in admin's browser post a console form. Every
/// POST handler of every page (found in the endpoint data source, so a new page cannot be forgotten) refuses
/// a post without the form's antiforgery token, or with another user's, and nothing changes. No GET changes anything.
/// </summary>
public sealed class CsrfTests : SecurityTest
{
    [Test]
    public async Task Every_console_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        await BuildWorldAsync();
        var handlers = (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.IsPost).ToList();
        Assert.That(handlers.Where(ConsoleEndpoints.IgnoresAntiforgery).Select(h => h.Route).Distinct(), Is.EqualTo(new[] { "/Error" }),
            "only the error page, which changes nothing, may take a post without a token");
        // The admin has opened the console: the browser holds the antiforgery cookie, the forging page cannot read the form's token.
        using (await Admin.GetAsync($"/Organizations/{W.Victim}")) { }
        var attackerToken = await W.AttackerClient.TokenAsync($"/Organizations/{W.Attacker}");
        var before = await SnapshotAsync();
        var tried = 0;
        foreach (var handler in handlers.Where(h => !ConsoleEndpoints.IgnoresAntiforgery(h)))
        {
            var url = handler.Url(VictimRoute, ProductQuery(handler));
            foreach (var token in new string?[] { null, attackerToken })
            {
                var fields = ValidFields(handler);
                if (token is not null) fields.Add(new("__RequestVerificationToken", token));
                using var response = await Admin.PostRawAsync(url, new FormUrlEncodedContent(fields));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{handler} with {(token is null ? "no token" : "the attacker's token")}");
                tried++;
            }
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "no table may change");
        using (var stillIn = await Admin.GetAsync("/"))
            Assert.That(stillIn.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a forged sign-out did not sign the admin out");
        Assert.That(tried, Is.EqualTo(2 * handlers.Count(h => !ConsoleEndpoints.IgnoresAntiforgery(h))));
    }

    [Test]
    public async Task No_console_GET_changes_anything()
    {
        await BuildWorldAsync();
        var before = await SnapshotAsync();
        foreach (var handler in (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.HttpMethod == "GET"))
        {
            var query = string.Join('&', ValidFields(handler).Select(f => $"{f.Key}={Uri.EscapeDataString(f.Value)}").Append(ProductQuery(handler)).Where(q => q.Length > 0));
            using var response = await Admin.GetAsync(handler.Url(VictimRoute, query));
            Assert.That((int)response.StatusCode, Is.LessThan(500), handler.ToString());
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "GET is for reading: no table may change");
    }
}

using System.Net.Http.Json;
using Dapper;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// A checkout the client repeats because its answer was lost (a timeout, a 503, a restart) never takes a
/// second seat: the session id the client proposes becomes the session's id, and repeating it reuses it.
/// </summary>
public class CheckoutRetryTests : LicenseTest
{
    private HttpClient _http = null!;
    private string _key = "";

    [SetUp]
    public async Task CreateKeyAsync()
    {
        _http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        _key = await KeyForAsync("runner@acme.test");
    }

    [TearDown]
    public void DisposeHttp() => _http.Dispose();

    private async Task<string> KeyForAsync(string email)
    {
        var userId = await AddMemberAsync(Org, email);
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, userId);
        return await Members.EngineKeyAsync(Server, membership!, "retry");
    }

    private async Task<(int Status, Guid? Id)> CheckoutAsync(Guid sessionId, string key, string machine = "M-1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
        {
            Headers = { { "X-Api-Key", key } },
            Content = JsonContent.Create(new { product = "KRE", machineId = machine, processId = "p", sessionId }),
        };
        using var response = await _http.SendAsync(request);
        if ((int)response.StatusCode != 201) return ((int)response.StatusCode, null);
        return (201, (await response.Content.ReadFromJsonAsync<SessionBody>())!.SessionId);
    }

    private sealed record SessionBody(Guid SessionId);

    private async Task<long> RowsAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session");
    }

    [Test]
    public async Task A_repeated_checkout_gets_the_session_id_it_proposed_and_one_seat()
    {
        var proposed = Guid.NewGuid();
        Assert.That(await CheckoutAsync(proposed, _key), Is.EqualTo((201, (Guid?)proposed)), "the proposed id becomes the session's");
        Assert.That(await CheckoutAsync(proposed, _key), Is.EqualTo((201, (Guid?)proposed)), "repeated, it is reused");
        Assert.That(await RowsAsync(), Is.EqualTo(1));

        // Ten copies of one request at once (a client retrying over slow links): one session between them.
        var racing = Guid.NewGuid();
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => CheckoutAsync(racing, _key)));
        Assert.That(answers.Distinct(), Is.EqualTo(new[] { (201, (Guid?)racing) }));
        Assert.That(await RowsAsync(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_proposed_id_held_by_an_ended_or_anothers_session_gives_way_to_a_new_one()
    {
        var first = Guid.NewGuid();
        await CheckoutAsync(first, _key);
        using (var release = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/sessions/{first}") { Headers = { { "X-Api-Key", _key } } })
        using (var released = await _http.SendAsync(release))
            Assert.That((int)released.StatusCode, Is.EqualTo(204));
        var afterEnd = await CheckoutAsync(first, _key);
        Assert.That(afterEnd.Status, Is.EqualTo(201));
        Assert.That(afterEnd.Id, Is.Not.EqualTo(first), "an ended session is not revived");

        var other = await KeyForAsync("other@acme.test");
        var theirs = await CheckoutAsync(afterEnd.Id!.Value, other, "M-2");
        Assert.That(theirs.Status, Is.EqualTo(201));
        Assert.That(theirs.Id, Is.Not.EqualTo(afterEnd.Id), "another user's session id gives them a session of their own");
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL"), Is.EqualTo(2));
        Assert.That(await db.ExecuteScalarAsync<string>("SELECT machine_id FROM floating_session WHERE id = @id", new { id = afterEnd.Id }), Is.EqualTo("M-1"),
            "the first user's session is untouched");
    }
}

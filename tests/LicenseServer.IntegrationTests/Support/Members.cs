using Dapper;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Core.Organizations;
using LicenseServer.Web.Licenses;
using Npgsql;

namespace LicenseServer.IntegrationTests.Support;

internal static class Members
{
    /// <summary>
    /// Many members of an organization in one statement: <paramref name="prefix"/>0@acme.test and on. One
    /// password hash serves them all (each costs a PBKDF2 run of 210,000 iterations).
    /// </summary>
    public static async Task<List<string>> AddAsync(NpgsqlConnection db, long organizationId, int count, string prefix)
    {
        var emails = Enumerable.Range(0, count).Select(i => $"{prefix}{i}@acme.test").ToList();
        await db.ExecuteAsync("""
            WITH added AS (
                INSERT INTO public.user_account (email, password, password_encrypted) SELECT unnest(@emails), @hash, true RETURNING id)
            INSERT INTO organization_member (organization_id, user_id, role, can_manage_licenses) SELECT @organizationId, id, 'member', false FROM added
            """, new { emails, hash = PasswordHashes.Of(ConsoleTest.Password), organizationId });
        return emails;
    }

    /// <summary>
    /// Assigns a floating product to members, as License Management's Assign License does: an organization made
    /// now lets only assigned members check out. For tests whose subject is another rule of the checkout.
    /// </summary>
    public static Task AssignFloatingAsync(NpgsqlConnection db, long organizationId, long userId, string product = "KRE") =>
        db.ExecuteAsync("""
            INSERT INTO floating_assignment (organization_id, product_code, user_id) VALUES (@organizationId, @product, @userId) ON CONFLICT DO NOTHING
            """, new { organizationId, product, userId });

    /// <summary>An API key of the member, who is assigned <paramref name="product"/> first: the key of an engine that checks out.</summary>
    public static async Task<string> EngineKeyAsync(TestServer server, Membership membership, string name, string product = "KRE")
    {
        await using (var db = new NpgsqlConnection(server.ConnectionString))
            await AssignFloatingAsync(db, membership.OrganizationId, membership.UserId, product);
        return await server.Service<LicenseService>().CreateApiKeyAsync(membership, name);
    }
}

using Dapper;
using LicenseServer.IntegrationTests.Support;
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
}

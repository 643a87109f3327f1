using System.Security.Cryptography;
using Dapper;
using LicenseServer.Bench.Server;
using LicenseServer.Core.Security;
using LicenseServer.Web.Accounts;
using Npgsql;

namespace LicenseServer.Bench.Data;

/// <summary>One bench user: member of one organization, holder of a per-user license there and of one API key.</summary>
public sealed record BenchUser(long Id, string Email, long OrganizationId, string ApiKey);

/// <summary>What the load uses: the users (with their secrets, never printed) and the organizations.</summary>
public sealed record BenchDataSet(IReadOnlyList<BenchUser> Users, IReadOnlyList<long> OrganizationIds, string Password, int Machines)
{
    public static string MachineId(int n) => $"bench-machine-{n:D4}";
}

/// <summary>
/// Loads realistic data straight into the server's database with set-based SQL (arrays and generate_series),
/// so that 1,000 users load in about a second: organizations with members, each organization's share of both
/// products (the shares add up to the license), a per-user license and an API key per user, and the machine
/// fleet registered for the floating product.
/// </summary>
public static class BenchData
{
    public static async Task<BenchDataSet> LoadAsync(NpgsqlDataSource db, BenchOptions options)
    {
        // One PBKDF2 hash (210,000 iterations) for every user: computing 1,000 would take minutes.
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        var hash = AccountService.Hash(password);
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var admin = await connection.ExecuteScalarAsync<long>("SELECT id FROM public.user_account WHERE is_default_account", transaction: tx);
        var orgs = (await connection.QueryAsync<long>("""
            INSERT INTO organization (name, created_by)
            SELECT 'Bench organization ' || lpad(n::text, 2, '0'), @admin FROM generate_series(1, @count) AS n ORDER BY n
            RETURNING id
            """, new { admin, count = options.Organizations }, tx)).Order().ToArray();
        var users = (await connection.QueryAsync<(long Id, string Email)>("""
            INSERT INTO public.user_account (email, password, password_encrypted, password_changed_at)
            SELECT 'bench-user-' || lpad(n::text, 4, '0') || '@bench.example', @hash, true, now() FROM generate_series(1, @count) AS n ORDER BY n
            RETURNING id, email
            """, new { hash, count = options.Users }, tx)).OrderBy(u => u.Id).ToArray();
        // User i belongs to organization i mod N: the first N clients already spread over every organization.
        var userOrgs = users.Select((_, i) => orgs[i % orgs.Length]).ToArray();
        var userIds = users.Select(u => u.Id).ToArray();
        await connection.ExecuteAsync("""
            INSERT INTO organization_member (organization_id, user_id, role) SELECT o, u, 'member' FROM unnest(@userOrgs, @userIds) AS m (o, u)
            """, new { userOrgs, userIds }, tx);
        await connection.ExecuteAsync("""
            INSERT INTO product_allocation (organization_id, product_code, quota)
            SELECT o, p.code, p.quota / @orgCount FROM unnest(@orgs) AS o
            CROSS JOIN (VALUES (@floating, @floatingQuota), (@perUser, @perUserQuota)) AS p (code, quota)
            """, new
        {
            orgs, orgCount = orgs.Length, floating = KitServerProcess.FloatingProduct, floatingQuota = options.FloatingQuota,
            perUser = KitServerProcess.PerUserProduct, perUserQuota = options.PerUserQuota,
        }, tx);
        // Every user holds both products: organizations made now let only assigned members check out a floating product.
        await connection.ExecuteAsync("""
            INSERT INTO license_assignment (organization_id, product_code, user_id, assigned_by) SELECT o, @perUser, u, @admin FROM unnest(@userOrgs, @userIds) AS m (o, u);
            INSERT INTO floating_assignment (organization_id, product_code, user_id, assigned_by) SELECT o, @floating, u, @admin FROM unnest(@userOrgs, @userIds) AS m (o, u);
            """, new { userOrgs, userIds, perUser = KitServerProcess.PerUserProduct, floating = KitServerProcess.FloatingProduct, admin }, tx);
        var keys = users.Select(_ => ApiKeyToken.New()).ToArray();
        await connection.ExecuteAsync("""
            INSERT INTO api_key (organization_id, user_id, name, prefix, key_hash)
            SELECT o, u, 'bench', p, decode(h, 'hex') FROM unnest(@userOrgs, @userIds, @prefixes, @hashes) AS k (o, u, p, h)
            """, new
        {
            userOrgs, userIds, prefixes = keys.Select(k => k.Prefix).ToArray(),
            hashes = keys.Select(k => Convert.ToHexStringLower(ApiKeyToken.Hash(k.Key))).ToArray(),
        }, tx);
        // The fleet of runtime machines is known to the server already: checkouts are the steady state, not first sightings.
        await connection.ExecuteAsync("""
            INSERT INTO floating_machine (organization_id, product_code, machine_id)
            SELECT o, @floating, 'bench-machine-' || lpad(n::text, 4, '0') FROM unnest(@orgs) AS o CROSS JOIN generate_series(0, @machines - 1) AS n
            """, new { orgs, floating = KitServerProcess.FloatingProduct, machines = options.Machines }, tx);
        await tx.CommitAsync();
        await connection.ExecuteAsync("VACUUM ANALYZE", commandTimeout: 300);
        return new BenchDataSet(users.Select((u, i) => new BenchUser(u.Id, u.Email, userOrgs[i], keys[i].Key)).ToList(), orgs, password, options.Machines);
    }
}

using Dapper;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Organizations;

public sealed record MyOrganizationRow(long Id, string Name, string Role);

public sealed class OrganizationRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// Creates the organization with its creator as Owner. The first organization of a server, when a server admin
    /// creates it (<paramref name="byServerAdmin"/>), receives every seat of the server's license, so that a new
    /// server has licenses to hand out at once; the server admin changes the shares under All licenses. Where anyone
    /// may create organizations, one made by someone else gets no seat by itself: it would hold the whole license,
    /// and seats in use cannot be taken back. The products' rows are locked first, as a change of a share locks
    /// them: two organizations created at once are not both the first.
    /// </summary>
    public async Task<long> CreateAsync(string name, long creatorId, bool byServerAdmin)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var products = (await connection.QueryAsync<(string Code, int Quota)>("SELECT code, quota FROM licensed_product ORDER BY code FOR UPDATE", transaction: tx)).ToList();
        var first = !await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM organization)", transaction: tx);
        var id = await connection.ExecuteScalarAsync<long>(
            "INSERT INTO organization (name, created_by) VALUES (@name, @creatorId) RETURNING id", new { name, creatorId }, tx);
        await connection.ExecuteAsync(
            "INSERT INTO organization_member (organization_id, user_id, role) VALUES (@id, @creatorId, 'owner')", new { id, creatorId }, tx);
        await AuditRepository.WriteAsync(connection, tx, creatorId, id, "organization.created", name);
        await AuditRepository.WriteAsync(connection, tx, creatorId, id, "member.added", await EmailAsync(connection, tx, creatorId), "role owner (creator)");
        if (first && byServerAdmin)
            foreach (var (code, quota) in products.Where(p => p.Quota > 0))
            {
                await connection.ExecuteAsync("INSERT INTO product_allocation (organization_id, product_code, quota) VALUES (@id, @code, @quota)", new { id, code, quota }, tx);
                await AuditRepository.WriteAsync(connection, tx, creatorId, id, "license.allocated", code, $"{quota} seats (every seat, to the first organization)");
            }
        await tx.CommitAsync();
        return id;
    }

    public async Task RenameAsync(long organizationId, string name, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var old = await connection.ExecuteScalarAsync<string>(
            "SELECT name FROM organization WHERE id = @organizationId FOR NO KEY UPDATE", new { organizationId }, tx);
        await connection.ExecuteAsync("UPDATE organization SET name = @name WHERE id = @organizationId", new { organizationId, name }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "organization.renamed", name, $"was {old}");
        await tx.CommitAsync();
    }

    /// <summary>Whether only members assigned a floating product check it out (else every member does).</summary>
    public async Task<bool> FloatingAssignedOnlyAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<bool>("SELECT floating_assigned_only FROM organization WHERE id = @organizationId", new { organizationId });
    }

    public async Task SetFloatingAssignedOnlyAsync(long organizationId, bool assignedOnly, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var changed = await connection.ExecuteAsync(
            "UPDATE organization SET floating_assigned_only = @assignedOnly WHERE id = @organizationId AND floating_assigned_only <> @assignedOnly",
            new { organizationId, assignedOnly }, tx);
        if (changed > 0)
            await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "organization.floating_access_changed", null,
                assignedOnly ? "assigned members only" : "every member");
        await tx.CommitAsync();
    }

    public async Task<IReadOnlyList<MyOrganizationRow>> ListForUserAsync(long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<MyOrganizationRow>("""
            SELECT o.id, o.name, m.role FROM organization o JOIN organization_member m ON m.organization_id = o.id
            WHERE m.user_id = @userId ORDER BY lower(o.name), o.id
            """, new { userId })).AsList();
    }

    public async Task<Membership?> MembershipAsync(long organizationId, long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(long, string, long, string, bool)?>("""
            SELECT o.id, o.name, m.user_id, m.role, m.can_manage_licenses
            FROM organization o JOIN organization_member m ON m.organization_id = o.id
            WHERE o.id = @organizationId AND m.user_id = @userId
            """, new { organizationId, userId });
        return row is { } r ? new Membership(r.Item1, r.Item2, r.Item3, RolePolicy.Parse(r.Item4), r.Item5) : null;
    }

    internal static Task<string?> EmailAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long userId) =>
        connection.ExecuteScalarAsync<string?>("SELECT email FROM public.user_account WHERE id = @userId", new { userId }, tx);
}

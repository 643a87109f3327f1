using Dapper;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Organizations;

public sealed record TeamRow(long Id, string Name, long Members);

public sealed record TeamMemberRow(long UserId, string Email);

/// <summary>Teams. Every statement is scoped by organization, so another organization's team id finds nothing.</summary>
public sealed class TeamRepository(NpgsqlDataSource db)
{
    private static readonly PagedList Teams = new(
        "SELECT t.id, t.name, (SELECT count(*) FROM team_member tm WHERE tm.team_id = t.id) AS members",
        "FROM team t WHERE t.organization_id = @organizationId",
        new Dictionary<string, string> { ["name"] = "lower(t.name)", ["members"] = "members" }, "name", "t.id", "t.name");

    private static readonly PagedList Members = new(
        "SELECT u.id AS user_id, u.email",
        """
        FROM team_member tm JOIN team t ON t.id = tm.team_id JOIN public.user_account u ON u.id = tm.user_id
        WHERE t.organization_id = @organizationId AND t.id = @teamId
        """,
        new Dictionary<string, string> { ["email"] = "lower(u.email)" }, "email", "u.id", "u.email");

    /// <summary>A page of the organization's teams, by name unless sorted otherwise, with how many members each has.</summary>
    public async Task<ListPage<TeamRow>> PageAsync(long organizationId, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Teams.ReadAsync<TeamRow>(connection, query, new { organizationId });
    }

    /// <summary>A page of one team's members (none for another organization's team).</summary>
    public async Task<ListPage<TeamMemberRow>> MembersPageAsync(long organizationId, long teamId, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Members.ReadAsync<TeamMemberRow>(connection, query, new { organizationId, teamId });
    }

    public async Task<TeamRow?> FindAsync(long organizationId, long teamId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<TeamRow>("""
            SELECT t.id, t.name, (SELECT count(*) FROM team_member WHERE team_id = t.id) AS members
            FROM team t WHERE t.organization_id = @organizationId AND t.id = @teamId
            """, new { organizationId, teamId });
    }

    /// <summary>Null when the name is taken in this organization.</summary>
    public async Task<long?> CreateAsync(long organizationId, string name, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var id = await connection.ExecuteScalarAsync<long?>("""
            INSERT INTO team (organization_id, name) VALUES (@organizationId, @name)
            ON CONFLICT (organization_id, lower(name)) DO NOTHING RETURNING id
            """, new { organizationId, name }, tx);
        if (id is null) return null;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.created", name);
        await tx.CommitAsync();
        return id;
    }

    public enum Result { Done, NotFound, NameTaken }

    public async Task<Result> RenameAsync(long organizationId, long teamId, string name, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var taken = await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM team WHERE organization_id = @organizationId AND lower(name) = lower(@name) AND id <> @teamId)",
            new { organizationId, teamId, name }, tx);
        if (taken) return Result.NameTaken;
        string? old;
        try
        {
            old = await connection.ExecuteScalarAsync<string?>("""
                UPDATE team t SET name = @name FROM team before WHERE before.id = t.id AND t.organization_id = @organizationId AND t.id = @teamId
                RETURNING before.name
                """, new { organizationId, teamId, name }, tx);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return Result.NameTaken; // a concurrent rename took the name first
        }
        if (old is null) return Result.NotFound;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.renamed", name, $"was {old}");
        await tx.CommitAsync();
        return Result.Done;
    }

    public async Task<bool> DeleteAsync(long organizationId, long teamId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var name = await connection.ExecuteScalarAsync<string?>(
            "DELETE FROM team WHERE organization_id = @organizationId AND id = @teamId RETURNING name", new { organizationId, teamId }, tx);
        if (name is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.deleted", name);
        await tx.CommitAsync();
        return true;
    }

    public enum MemberResult { Done, TeamNotFound, NotAnOrganizationMember, AlreadyInTeam, NotInTeam }

    public async Task<MemberResult> AddMemberAsync(long organizationId, long teamId, string email, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var team = await connection.ExecuteScalarAsync<string?>(
            "SELECT name FROM team WHERE organization_id = @organizationId AND id = @teamId", new { organizationId, teamId }, tx);
        if (team is null) return MemberResult.TeamNotFound;
        var userId = await connection.ExecuteScalarAsync<long?>("""
            SELECT m.user_id FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND lower(u.email) = lower(@email)
            """, new { organizationId, email }, tx);
        if (userId is null) return MemberResult.NotAnOrganizationMember;
        var added = await connection.ExecuteAsync(
            "INSERT INTO team_member (team_id, user_id) VALUES (@teamId, @userId) ON CONFLICT DO NOTHING", new { teamId, userId }, tx);
        if (added == 0) return MemberResult.AlreadyInTeam;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.member_added", email, team);
        await tx.CommitAsync();
        return MemberResult.Done;
    }

    public async Task<MemberResult> RemoveMemberAsync(long organizationId, long teamId, long userId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var removed = await connection.QuerySingleOrDefaultAsync<(string Team, string Email)?>("""
            DELETE FROM team_member tm USING team t, public.user_account u
            WHERE tm.team_id = t.id AND u.id = tm.user_id AND t.organization_id = @organizationId AND t.id = @teamId AND tm.user_id = @userId
            RETURNING t.name, u.email
            """, new { organizationId, teamId, userId }, tx);
        if (removed is null) return MemberResult.NotInTeam;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.member_removed", removed.Value.Email, removed.Value.Team);
        await tx.CommitAsync();
        return MemberResult.Done;
    }
}

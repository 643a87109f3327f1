using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Organizations;

public sealed record OrganizationListRow(long Id, string Name, DateTime CreatedAt, string? Owners, long Members);

/// <summary>Every organization on the server, a page at a time, for the server admin.</summary>
public sealed class OrganizationListRepository(NpgsqlDataSource db)
{
    private const string Owners = """
        (SELECT string_agg(u.email, ', ' ORDER BY u.email) FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
         WHERE m.organization_id = o.id AND m.role = 'owner')
        """;

    private static readonly PagedList Organizations = new(
        $"SELECT o.id, o.name, o.created_at, {Owners} AS owners, (SELECT count(*) FROM organization_member m WHERE m.organization_id = o.id) AS members",
        "FROM organization o WHERE true",
        new Dictionary<string, string>
        {
            ["name"] = "lower(o.name)", ["created"] = "o.created_at", ["members"] = "(SELECT count(*) FROM organization_member m WHERE m.organization_id = o.id)",
        },
        "name", "o.id", "o.name", Owners);

    public async Task<ListPage<OrganizationListRow>> PageAsync(ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Organizations.ReadAsync<OrganizationListRow>(connection, query, new { });
    }
}

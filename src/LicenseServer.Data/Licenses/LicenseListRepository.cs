using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Licenses;

public sealed record LicensedUserRow(long UserId, string Email, DateTime AssignedAt, long Machines);

/// <summary>A member assigned a floating product, with their sessions live now.</summary>
public sealed record FloatingUserRow(long UserId, string Email, DateTime AssignedAt, long Sessions);

public sealed record MachineRow(long Id, string Email, string MachineId, DateTime ActivatedAt, DateTime LastSeenAt);

public sealed record SessionRow(Guid Id, string Email, string MachineId, string ProcessId, DateTime StartedAt, DateTime LastHeartbeatAt, DateTime ExpiresAt);

public sealed record FloatingMachineRow(string MachineId, DateTime FirstSeenAt, DateTime LastSeenAt, bool Busy);

public sealed record OfflineRow(Guid Id, string ProductCode, string MachineId, DateTime ExpiresAt, DateTime CreatedAt, string CreatedBy, string FileName);

/// <summary>The lists of License Management, a page at a time: they grow with the customer (thousands of sessions and machines).</summary>
public sealed class LicenseListRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private static readonly PagedList LicensedUsers = new("""
        SELECT a.user_id, u.email, a.assigned_at,
               (SELECT count(*) FROM machine_activation m WHERE m.organization_id = a.organization_id AND m.product_code = a.product_code AND m.user_id = a.user_id
                AND m.deactivated_at IS NULL) AS machines
        """,
        "FROM license_assignment a JOIN public.user_account u ON u.id = a.user_id WHERE a.organization_id = @organizationId AND a.product_code = @productCode",
        new Dictionary<string, string> { ["email"] = "lower(u.email)", ["assigned"] = "a.assigned_at" }, "email", "a.user_id", "u.email");

    private static readonly PagedList FloatingUsers = new("""
        SELECT a.user_id, u.email, a.assigned_at,
               (SELECT count(*) FROM floating_session s WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code AND s.user_id = a.user_id
                AND s.ended_at IS NULL AND s.expires_at > @now) AS sessions
        """,
        "FROM floating_assignment a JOIN public.user_account u ON u.id = a.user_id WHERE a.organization_id = @organizationId AND a.product_code = @productCode",
        new Dictionary<string, string> { ["email"] = "lower(u.email)", ["assigned"] = "a.assigned_at" }, "email", "a.user_id", "u.email");

    private static readonly PagedList OnlineLicenses = new(
        "SELECT m.id, u.email, m.machine_id, m.activated_at, m.last_seen_at",
        """
        FROM machine_activation m JOIN public.user_account u ON u.id = m.user_id
        WHERE m.organization_id = @organizationId AND m.product_code = @productCode AND m.deactivated_at IS NULL
        """,
        new Dictionary<string, string> { ["email"] = "lower(u.email)", ["machine"] = "m.machine_id", ["activated"] = "m.activated_at", ["seen"] = "m.last_seen_at" },
        "email", "m.id", "u.email", "m.machine_id");

    private static readonly PagedList Sessions = new(
        "SELECT s.id, u.email, s.machine_id, s.process_id, s.started_at, s.last_heartbeat_at, s.expires_at",
        """
        FROM floating_session s JOIN public.user_account u ON u.id = s.user_id
        WHERE s.organization_id = @organizationId AND s.product_code = @productCode AND s.ended_at IS NULL AND s.expires_at > @now
        """,
        new Dictionary<string, string>
        {
            ["email"] = "lower(u.email)", ["machine"] = "s.machine_id", ["process"] = "s.process_id", ["started"] = "s.started_at", ["heartbeat"] = "s.last_heartbeat_at",
        },
        "started", "s.id", "u.email", "s.machine_id", "s.process_id");

    private static readonly PagedList RegisteredMachines = new("""
        SELECT m.machine_id, m.first_seen_at, m.last_seen_at,
               EXISTS (SELECT 1 FROM floating_session s WHERE s.organization_id = m.organization_id AND s.product_code = m.product_code
                       AND s.machine_id = m.machine_id AND s.ended_at IS NULL AND s.expires_at > @now) AS busy
        """,
        "FROM floating_machine m WHERE m.organization_id = @organizationId AND m.product_code = @productCode",
        new Dictionary<string, string> { ["machine"] = "m.machine_id", ["first"] = "m.first_seen_at", ["seen"] = "m.last_seen_at" },
        "-seen", "m.machine_id", "m.machine_id");

    private static readonly PagedList OfflineLicenses = new(
        "SELECT o.id, o.product_code, o.machine_id, o.expires_at, o.created_at, u.email AS created_by, o.file_name",
        "FROM offline_license o JOIN public.user_account u ON u.id = o.created_by WHERE o.organization_id = @organizationId AND o.product_code = @productCode",
        new Dictionary<string, string> { ["machine"] = "o.machine_id", ["expires"] = "o.expires_at", ["created"] = "o.created_at", ["by"] = "lower(u.email)" },
        "-created", "o.id", "o.machine_id", "o.file_name", "u.email");

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public Task<ListPage<LicensedUserRow>> LicensedUsersAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<LicensedUserRow>(LicensedUsers, organizationId, productCode, query);

    public Task<ListPage<FloatingUserRow>> FloatingUsersAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<FloatingUserRow>(FloatingUsers, organizationId, productCode, query);

    public Task<ListPage<MachineRow>> OnlineLicensesAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<MachineRow>(OnlineLicenses, organizationId, productCode, query);

    public Task<ListPage<SessionRow>> SessionsAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<SessionRow>(Sessions, organizationId, productCode, query);

    public Task<ListPage<FloatingMachineRow>> RegisteredMachinesAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<FloatingMachineRow>(RegisteredMachines, organizationId, productCode, query);

    public Task<ListPage<OfflineRow>> OfflineLicensesAsync(long organizationId, string productCode, ListQuery query) =>
        ReadAsync<OfflineRow>(OfflineLicenses, organizationId, productCode, query);

    private async Task<ListPage<T>> ReadAsync<T>(PagedList list, long organizationId, string productCode, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await list.ReadAsync<T>(connection, query, new { organizationId, productCode, now = Now });
    }
}

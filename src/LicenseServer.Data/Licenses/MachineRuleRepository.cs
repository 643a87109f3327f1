using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

public sealed record AllowedMachineRow(string MachineId, DateTime AddedAt, string? AddedBy);

public sealed record DisabledMachineRow(string MachineId, string? Reason, DateTime DisabledAt, string? DisabledBy);

/// <summary>
/// The allow-list of machines per floating product, and machines disabled in an organization.
/// The seat ledger and the activation path enforce them; this stores and lists them.
/// </summary>
public sealed class MachineRuleRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<IReadOnlyList<AllowedMachineRow>> AllowedAsync(long organizationId, string productCode)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<AllowedMachineRow>("""
            SELECT m.machine_id, m.added_at, u.email AS added_by
            FROM floating_allowed_machine m LEFT JOIN public.user_account u ON u.id = m.added_by
            WHERE m.organization_id = @organizationId AND m.product_code = @productCode ORDER BY m.machine_id
            """, new { organizationId, productCode })).AsList();
    }

    /// <summary>Puts a machine on a floating product's allow-list; the first entry restricts the product to the list.</summary>
    public async Task AllowAsync(long organizationId, string productCode, string machineId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var kind = await connection.ExecuteScalarAsync<string?>("SELECT kind FROM licensed_product WHERE code = @productCode", new { productCode }, tx)
            ?? throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
        if (ProductWords.Kind(kind) != ProductKind.Floating) throw new LicenseRuleException("not_floating", $"{productCode} is a per-user license: only floating products have an allow-list.");
        await LockPoolAsync(connection, tx, organizationId, productCode);
        var added = await connection.ExecuteAsync("""
            INSERT INTO floating_allowed_machine (organization_id, product_code, machine_id, added_at, added_by)
            VALUES (@organizationId, @productCode, @machineId, @now, @actor) ON CONFLICT DO NOTHING
            """, new { organizationId, productCode, machineId, now = Now, actor }, tx);
        if (added == 0) throw new LicenseRuleException("already_allowed", $"{machineId} is on the {productCode} allow-list already.");
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "machine.allowed", machineId, productCode);
        await tx.CommitAsync();
    }

    /// <summary>Takes a machine off the allow-list; its running sessions go on until they end. An empty list allows every machine.</summary>
    public async Task DisallowAsync(long organizationId, string productCode, string machineId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await LockPoolAsync(connection, tx, organizationId, productCode);
        var removed = await connection.ExecuteAsync(
            "DELETE FROM floating_allowed_machine WHERE organization_id = @organizationId AND product_code = @productCode AND machine_id = @machineId",
            new { organizationId, productCode, machineId }, tx);
        if (removed == 0) throw new LicenseRuleException("not_found", $"{machineId} is not on the {productCode} allow-list.");
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "machine.disallowed", machineId, productCode);
        await tx.CommitAsync();
    }

    public async Task<IReadOnlyList<DisabledMachineRow>> DisabledAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<DisabledMachineRow>("""
            SELECT d.machine_id, d.reason, d.disabled_at, u.email AS disabled_by
            FROM disabled_machine d LEFT JOIN public.user_account u ON u.id = d.disabled_by
            WHERE d.organization_id = @organizationId ORDER BY d.machine_id
            """, new { organizationId })).AsList();
    }

    /// <summary>
    /// Disables a machine in the organization: its live floating sessions end now (their rows stay), and
    /// every product refuses it until it is enabled. Nothing else is changed or deleted.
    /// </summary>
    public async Task<int> DisableAsync(long organizationId, string machineId, string? reason, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        // Every pool of the organization, in the ledger's lock order: a checkout either sees the machine
        // disabled or has committed its session before the update below ends it.
        await connection.ExecuteAsync(
            "SELECT 1 FROM product_allocation WHERE organization_id = @organizationId ORDER BY product_code FOR UPDATE", new { organizationId }, tx);
        var added = await connection.ExecuteAsync("""
            INSERT INTO disabled_machine (organization_id, machine_id, reason, disabled_at, disabled_by)
            VALUES (@organizationId, @machineId, @reason, @now, @actor) ON CONFLICT DO NOTHING
            """, new { organizationId, machineId, reason, now = Now, actor }, tx);
        if (added == 0) throw new LicenseRuleException("already_disabled", $"{machineId} is disabled already.");
        var ended = await connection.ExecuteAsync("""
            UPDATE floating_session SET ended_at = @now
            WHERE organization_id = @organizationId AND machine_id = @machineId AND ended_at IS NULL AND expires_at > @now
            """, new { organizationId, machineId, now = Now }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "machine.disabled", machineId,
            (reason is null ? "" : reason + "; ") + $"{ended} live session{(ended == 1 ? "" : "s")} ended");
        await tx.CommitAsync();
        return ended;
    }

    public async Task EnableAsync(long organizationId, string machineId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var removed = await connection.ExecuteAsync(
            "DELETE FROM disabled_machine WHERE organization_id = @organizationId AND machine_id = @machineId", new { organizationId, machineId }, tx);
        if (removed == 0) throw new LicenseRuleException("not_found", $"{machineId} is not disabled.");
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "machine.enabled", machineId);
        await tx.CommitAsync();
    }

    private static Task LockPoolAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode) =>
        connection.ExecuteAsync("SELECT 1 FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE",
            new { organizationId, productCode }, tx);
}

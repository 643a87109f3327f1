using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>An activation granted, with the server's license it was granted under (its end caps the lease; its text is the lease's proof).</summary>
public sealed record ActivationGrant(long OrganizationId, string OrganizationName, LicensedProductTerms Product, string Email, bool Renewed,
    DateTimeOffset? LicenseValidUntil, string VendorLicense);

/// <summary>A bearer token's caller, with the grant when <see cref="RenewalBatcher"/> renewed an active machine.</summary>
public sealed record TokenRenewal(ClientCaller Caller, ActivationGrant? Grant);

/// <summary>
/// Per-user products on machines: activation, renewal by token, deactivation. Whether a machine may be active is
/// decided by one database function, <c>kit_activation_refusal</c>, in one statement that both paths share.
/// </summary>
public sealed class MachineActivationRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>
    /// What the activation's checks read for the caller, judged by <c>kit_activation_refusal</c> (the user's assignment
    /// locked FOR UPDATE when its check is reached: one user's activations are serialised, and an unassign waits),
    /// then the renewal of the machine when it is active and every check passed. The stored lease never moves back:
    /// renewals that cross (in one batch, or on two nodes) keep the latest lease signed, which is what a deactivated
    /// machine is counted by.
    /// </summary>
    private const string CheckAndRenewSql = """
        checked AS (
            SELECT c.id AS user_id, u.email, o.name AS organization_name, l.valid_until AS license_valid_until, l.file_text AS license_file_text,
                   p.name AS product_name, p.kind AS product_kind, p.subscription AS product_subscription, p.expires_at AS product_expires_at,
                   p.quota AS product_quota, d.reason AS disabled_reason,
                   kit_activation_refusal(o.id IS NOT NULL, kit_license_refusal(l.issued_at, l.valid_until, @now, @clockSkewSeconds), p.kind, p.expires_at, @now,
                       EXISTS (SELECT 1 FROM license_assignment a
                               WHERE a.organization_id = @organizationId AND a.product_code = @productCode AND a.user_id = c.id FOR UPDATE),
                       d.machine_id IS NOT NULL) AS refusal
            FROM caller c
            JOIN public.user_account u ON u.id = c.id
            LEFT JOIN organization_member m ON m.organization_id = @organizationId AND m.user_id = c.id
            LEFT JOIN organization o ON o.id = m.organization_id
            LEFT JOIN server_license l ON l.id = 1
            LEFT JOIN licensed_product p ON p.code = @productCode
            LEFT JOIN disabled_machine d ON d.organization_id = @organizationId AND d.machine_id = @machineId),
        renewed AS (
            UPDATE machine_activation SET last_seen_at = @now, lease_expires_at = greatest(lease_expires_at, @leaseExpiresAt)
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = (SELECT user_id FROM checked) AND machine_id = @machineId
              AND deactivated_at IS NULL AND (SELECT refusal FROM checked) IS NULL
            RETURNING 1)
        SELECT c.*, EXISTS (SELECT 1 FROM renewed) AS renewed FROM checked c
        """;

    /// <summary>
    /// The statement of a renewal by bearer token (batched by <see cref="RenewalBatcher"/>): the token's caller (as
    /// <see cref="ClientRepository.FindByTokenAsync"/> finds it), checked and renewed. No row when the token was refused.
    /// </summary>
    internal const string RenewalSql = """
        WITH caller AS (
            SELECT u.id FROM api_token t JOIN public.user_account u ON u.id = t.user_id
            WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL AND t.expires_at > @now
              AND NOT u.disabled AND u.security_stamp = t.security_stamp),
        """ + CheckAndRenewSql;

    private const string ActivationSql = "WITH caller AS (SELECT @userId::bigint AS id),\n" + CheckAndRenewSql;

    /// <summary>What the checks read and decided (<see cref="CheckAndRenewSql"/>), and whether the machine was renewed.</summary>
    internal sealed class CheckRow
    {
        public long UserId { get; init; }
        public string? Refusal { get; init; }
        public string Email { get; init; } = "";
        public string? OrganizationName { get; init; }
        public DateTimeOffset? LicenseValidUntil { get; init; }
        public string? LicenseFileText { get; init; }
        public string? ProductName { get; init; }
        public string? ProductKind { get; init; }
        public string? ProductSubscription { get; init; }
        public DateTimeOffset? ProductExpiresAt { get; init; }
        public int? ProductQuota { get; init; }
        public string? DisabledReason { get; init; }
        public bool Renewed { get; init; }

        public ActivationGrant Grant(long organizationId, string productCode) => new(organizationId, OrganizationName!,
            new SeatPools.ProductTermsRow(productCode, ProductName!, ProductKind!, ProductSubscription!, ProductExpiresAt, ProductQuota!.Value).Terms,
            Email, Renewed, LicenseValidUntil, LicenseFileText!);

        /// <summary>The sentence of the check that failed: the activation's own, or the seat rules' table (<see cref="Refusals"/>).</summary>
        public LicenseRuleException Refused(string productCode, string machineId) => Refusal switch
        {
            "not_a_member" => new("not_a_member", "You are not a member of this organization."),
            "not_per_user" => new("not_per_user", $"{productCode} is a floating license: check out a session with an API key instead."),
            "not_licensed" => new("not_licensed", $"You hold no {productCode} license in {OrganizationName}. Ask an Owner or Admin to assign you one."),
            _ => Refusals.Word(Refusal!, new RefusalFacts(productCode)
            {
                LicenseValidUntil = LicenseValidUntil,
                ProductEndedAt = ProductExpiresAt,
                MachineId = machineId,
                DisabledReason = DisabledReason,
            }),
        };
    }

    internal static TokenRenewal? ToRenewal(CheckRow? row, long organizationId, string productCode) => row is null ? null
        : new TokenRenewal(new ClientCaller(row.UserId, row.Email, null, null), row.Renewed ? row.Grant(organizationId, productCode) : null);

    /// <summary>
    /// Activates (or renews) a per-user product on a machine. Refused by the checks of <c>kit_activation_refusal</c>,
    /// when the user's other machines already reach <paramref name="machinesPerUser"/>, or when machines became
    /// active too often lately (<paramref name="churn"/>, unless the server admin set another limit for the product,
    /// which holds within <paramref name="vendorChurn"/>, the vendor's).
    /// </summary>
    public async Task<ActivationGrant> ActivateAsync(long organizationId, long userId, string productCode, string machineId, DateTimeOffset leaseExpiresAt,
        int machinesPerUser, ChurnLimit churn, ChurnLimit vendorChurn)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        // One round trip checks and renews an active machine; the assignment stays locked until the commit.
        var row = await connection.QuerySingleAsync<CheckRow>(ActivationSql, new
        {
            userId, organizationId, productCode, machineId, now = Now, leaseExpiresAt = leaseExpiresAt.UtcDateTime,
            clockSkewSeconds = SeatPools.ClockSkewSeconds,
        }, tx);
        if (row.Refusal is not null) throw row.Refused(productCode, machineId);
        if (!row.Renewed)
        {
            await RequireChurnAllowsAsync(connection, tx, organizationId, productCode, userId, churn, vendorChurn);
            // A deactivated machine still counts while the lease it was given can be checked offline; this machine's own row is replaced.
            var (active, lingering, freeAt) = await connection.QuerySingleAsync<(int, int, DateTime?)>("""
                SELECT count(*) FILTER (WHERE deactivated_at IS NULL),
                       count(*) FILTER (WHERE deactivated_at IS NOT NULL AND lease_expires_at > @now),
                       min(lease_expires_at) FILTER (WHERE deactivated_at IS NOT NULL AND lease_expires_at > @now)
                FROM machine_activation WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND machine_id <> @machineId
                """, new { organizationId, productCode, userId, machineId, now = Now }, tx);
            if (active + lingering >= machinesPerUser)
                throw new LicenseRuleException("machine_limit", lingering == 0
                    ? $"Your {productCode} license is active on {active} machines, the limit. Deactivate one of them first."
                    : $"Your {productCode} license is active on {active} machines, and {lingering} deactivated machine(s) still hold a lease valid offline " +
                      $"until {freeAt:yyyy-MM-dd HH:mm} UTC; together they reach the limit of {machinesPerUser}. Re-activate one of those machines, or wait until then.");
            await connection.ExecuteAsync("""
                INSERT INTO machine_activation (organization_id, product_code, user_id, machine_id, activated_at, last_seen_at, lease_expires_at)
                VALUES (@organizationId, @productCode, @userId, @machineId, @now, @now, @leaseExpiresAt)
                ON CONFLICT (organization_id, product_code, user_id, machine_id) DO UPDATE
                SET activated_at = excluded.activated_at, last_seen_at = excluded.last_seen_at, lease_expires_at = excluded.lease_expires_at, deactivated_at = NULL;
                INSERT INTO machine_activation_event (organization_id, product_code, user_id, machine_id, at) VALUES (@organizationId, @productCode, @userId, @machineId, @now);
                """, new { organizationId, productCode, userId, machineId, now = Now, leaseExpiresAt = leaseExpiresAt.UtcDateTime }, tx);
            await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "license.machine_activated", machineId, productCode);
        }
        await tx.CommitAsync();
        return row.Grant(organizationId, productCode);
    }

    /// <summary>
    /// Refuses a machine becoming active when the window already holds the limit's number of activations.
    /// The server admin's limit for the product never goes beyond the vendor's, even one set under an earlier .lic.
    /// </summary>
    private async Task RequireChurnAllowsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, long userId,
        ChurnLimit configured, ChurnLimit vendor)
    {
        var limit = await ChurnLimitRepository.ForProductAsync(connection, tx, productCode) is { } own ? own.Tighter(vendor) : configured;
        var recent = (await connection.QueryAsync<DateTimeOffset>("""
            SELECT at FROM machine_activation_event
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND at > @since
            ORDER BY at DESC LIMIT @count
            """, new { organizationId, productCode, userId, since = Now - limit.Window, count = limit.Activations }, tx)).AsList();
        if (recent.Count >= limit.Activations)
            throw MachineRules.Churned(productCode, limit, recent[^1] + limit.Window);
    }

    public async Task<bool> DeactivateAsync(long organizationId, long userId, string productCode, string machineId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var removed = await connection.ExecuteAsync("""
            UPDATE machine_activation SET deactivated_at = @now
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND machine_id = @machineId AND deactivated_at IS NULL
            """, new { organizationId, productCode, userId, machineId, now = Now }, tx);
        if (removed == 0) return false;
        await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "license.machine_deactivated", machineId, productCode);
        await tx.CommitAsync();
        return true;
    }
}

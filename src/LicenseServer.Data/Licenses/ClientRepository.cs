using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>Who a bearer token or an API key stands for. <c>OrganizationId</c> is set for an API key only.</summary>
public sealed record ClientCaller(long UserId, string Email, long? OrganizationId, long? ApiKeyId);

/// <summary>An activation granted, with the server's license it was granted under (its end caps the lease; its text is the lease's proof).</summary>
public sealed record ActivationGrant(long OrganizationId, string OrganizationName, LicensedProductTerms Product, string Email, bool Renewed,
    DateTime? LicenseValidUntil, string VendorLicense);

/// <summary>A bearer token's caller, with the grant when <see cref="ClientRepository.RenewByTokenAsync"/> renewed an active machine.</summary>
public sealed record TokenRenewal(ClientCaller Caller, ActivationGrant? Grant);

/// <summary>The client API's reads and writes: tokens, API keys, machine activations, session heartbeats.</summary>
public sealed class ClientRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task CreateTokenAsync(long userId, Guid securityStamp, byte[] tokenHash, DateTimeOffset expiresAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO api_token (user_id, token_hash, security_stamp, created_at, expires_at) VALUES (@userId, @tokenHash, @securityStamp, @now, @expiresAt)
            """, new { userId, tokenHash, securityStamp, now = Now, expiresAt = expiresAt.UtcDateTime });
    }

    /// <summary>A live token of an enabled user whose stamp has not changed since.</summary>
    public async Task<ClientCaller?> FindByTokenAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<ClientCaller>("""
            SELECT u.id AS user_id, u.email, NULL::bigint AS organization_id, NULL::bigint AS api_key_id
            FROM api_token t JOIN public.user_account u ON u.id = t.user_id
            WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL AND t.expires_at > @now
              AND NOT u.disabled AND u.security_stamp = t.security_stamp
            """, new { tokenHash, now = Now });
    }

    public async Task RevokeTokenAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE api_token SET revoked_at = @now WHERE token_hash = @tokenHash AND revoked_at IS NULL", new { tokenHash, now = Now });
    }

    /// <summary>
    /// An API key and its owner, whether revoked or not (the caller tells a revoked key apart), and
    /// whether the owner is still an enabled member of the key's organization. Last use is written at
    /// most once a minute, to keep the hot path to one read.
    /// </summary>
    public async Task<(ClientCaller Caller, bool Revoked, bool Member)?> FindByApiKeyAsync(byte[] keyHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(long Id, long UserId, string Email, long OrganizationId, bool Revoked, bool Member, DateTime? LastUsed)?>("""
            SELECT k.id, k.user_id, u.email, k.organization_id, k.revoked_at IS NOT NULL,
                   NOT u.disabled AND EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = k.organization_id AND m.user_id = k.user_id),
                   k.last_used_at
            FROM api_key k JOIN public.user_account u ON u.id = k.user_id WHERE k.key_hash = @keyHash
            """, new { keyHash });
        if (row is not { } key) return null;
        if (!key.Revoked && (key.LastUsed is null || key.LastUsed < Now.AddMinutes(-1)))
            await connection.ExecuteAsync("UPDATE api_key SET last_used_at = @now WHERE id = @Id", new { key.Id, now = Now });
        return (new ClientCaller(key.UserId, key.Email, key.OrganizationId, key.Id), key.Revoked, key.Member);
    }

    /// <summary>
    /// Per-user activation's hot case in one round trip and one implicit transaction: the bearer token's lookup, the checks
    /// of <see cref="ActivateAsync"/> and the renewal of the machine when it is active. Renews only when
    /// every check passes; the caller then has its grant. Otherwise nothing was written, and the caller
    /// runs <see cref="ActivateAsync"/>, which says why or activates the machine. Null when the token was
    /// refused (unknown, expired, revoked, stamp changed, user disabled).
    /// </summary>
    public async Task<TokenRenewal?> RenewByTokenAsync(byte[] tokenHash, long organizationId, string productCode, string machineId, DateTimeOffset leaseExpiresAt)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<RenewalRow>(RenewalSql, new
        {
            tokenHash, organizationId, productCode, machineId, now = now.UtcDateTime, leaseExpiresAt = leaseExpiresAt.UtcDateTime,
            latestIssue = (now + Core.Activation.LicenseVerifier.ClockSkew).UtcDateTime,
        });
        return ToRenewal(row, organizationId);
    }

    internal static TokenRenewal? ToRenewal(RenewalRow? row, long organizationId)
    {
        if (row is null) return null;
        var caller = new ClientCaller(row.UserId, row.Email, null, null);
        if (!row.Renewed) return new TokenRenewal(caller, null);
        var product = new SeatPools.ProductTermsRow(row.Code!, row.Name!, row.Kind!, row.Subscription!, row.ExpiresAt, row.Quota!.Value).Terms;
        return new TokenRenewal(caller, new ActivationGrant(organizationId, row.OrganizationName!, product, row.Email, true, row.ValidUntil, row.FileText!));
    }

    internal sealed record RenewalRow(long UserId, string Email, bool Renewed, string? OrganizationName, DateTime? ValidUntil, string? FileText,
        string? Code, string? Name, string? Kind, string? Subscription, DateTime? ExpiresAt, int? Quota);

    /// <summary>
    /// The statement of <see cref="RenewByTokenAsync"/>: the token's caller as <see cref="FindByTokenAsync"/>
    /// finds it, then the renewal of <see cref="ActivationSql"/> guarded by every check that
    /// <see cref="ActivateAsync"/> makes of a renewal, each as strict as there (membership, the server's
    /// license valid and not issued in the future, the product per-user and not expired, the user's
    /// assignment, locked first as there, the machine not disabled). The row says what the lease needs.
    /// The stored lease never moves back: renewals that cross (in one batch, or on two nodes) keep the
    /// latest lease signed, which is what a deactivated machine is counted by.
    /// </summary>
    internal const string RenewalSql = """
        WITH caller AS (
            SELECT u.id, u.email FROM api_token t JOIN public.user_account u ON u.id = t.user_id
            WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL AND t.expires_at > @now
              AND NOT u.disabled AND u.security_stamp = t.security_stamp),
        member AS (
            SELECT o.name FROM organization o JOIN organization_member m ON m.organization_id = o.id
            WHERE o.id = @organizationId AND m.user_id = (SELECT id FROM caller)),
        license AS (
            SELECT valid_until, file_text FROM server_license
            WHERE id = 1 AND (valid_until IS NULL OR valid_until > @now) AND issued_at <= @latestIssue),
        product AS (
            SELECT code, name, kind, subscription, expires_at, quota FROM licensed_product
            WHERE code = @productCode AND kind = 'per-user' AND (expires_at IS NULL OR expires_at > @now)),
        assigned AS (
            SELECT 1 FROM license_assignment
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = (SELECT id FROM caller) FOR UPDATE),
        renewed AS (
            UPDATE machine_activation SET last_seen_at = @now, lease_expires_at = greatest(lease_expires_at, @leaseExpiresAt)
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = (SELECT id FROM caller) AND machine_id = @machineId
              AND deactivated_at IS NULL
              AND EXISTS (SELECT 1 FROM member) AND EXISTS (SELECT 1 FROM license) AND EXISTS (SELECT 1 FROM product)
              AND EXISTS (SELECT 1 FROM assigned)
              AND NOT EXISTS (SELECT 1 FROM disabled_machine d WHERE d.organization_id = @organizationId AND d.machine_id = @machineId)
            RETURNING 1)
        SELECT c.id AS user_id, c.email, EXISTS (SELECT 1 FROM renewed) AS renewed, m.name AS organization_name, l.valid_until, l.file_text,
               p.code, p.name, p.kind, p.subscription, p.expires_at, p.quota
        FROM caller c LEFT JOIN member m ON true LEFT JOIN license l ON true LEFT JOIN product p ON true
        """;

    /// <summary>
    /// Activates (or renews) a per-user product on a machine. Refused without a license of the
    /// product, on a disabled machine, when the user's other machines already reach
    /// <paramref name="machinesPerUser"/>, or when machines became active too often lately (
    /// <paramref name="churn"/>, unless the server admin set another limit for the product, which holds
    /// within <paramref name="vendorChurn"/>, the vendor's).
    /// </summary>
    public async Task<ActivationGrant> ActivateAsync(long organizationId, long userId, string productCode, string machineId, DateTimeOffset leaseExpiresAt,
        int machinesPerUser, ChurnLimit churn, ChurnLimit vendorChurn)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        (string Name, string Email) org;
        (DateTime IssuedAt, DateTime? ValidUntil, string FileText)? license;
        LicensedProductTerms product;
        bool renewed;
        // One round trip reads what the checks need and renews an active machine; a refusal rolls the renewal back.
        await using (var batch = await SeatPools.Batch.RunAsync(connection, ActivationSql, new
        {
            organizationId, userId, productCode, machineId, now = now.UtcDateTime, leaseExpiresAt = leaseExpiresAt.UtcDateTime,
        }, tx))
        {
            org = await batch.Grid.ReadSingleOrDefaultAsync<(string Name, string Email)?>()
                ?? throw new LicenseRuleException("not_a_member", "You are not a member of this organization.");
            license = await batch.Grid.ReadSingleOrDefaultAsync<(DateTime IssuedAt, DateTime? ValidUntil, string FileText)?>();
            SeatPools.RequireLicenseValid(license is { } l ? (l.IssuedAt, l.ValidUntil) : null, now);
            product = (await batch.Grid.ReadSingleOrDefaultAsync<SeatPools.ProductTermsRow?>())?.Terms
                ?? throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
            if (product.Kind != Core.Activation.ProductKind.PerUser)
                throw new LicenseRuleException("not_per_user", $"{productCode} is a floating license: check out a session with an API key instead.");
            if (product.ExpiresAt is { } end && end <= now)
                throw Refusals.Word("product_expired", new RefusalFacts(productCode) { ProductEndedAt = end });
            if (!await batch.Grid.ReadSingleOrDefaultAsync<bool>())
                throw new LicenseRuleException("not_licensed", $"You hold no {productCode} license in {org.Name}. Ask an Owner or Admin to assign you one.");
            var machine = await batch.Grid.ReadSingleAsync<(bool Disabled, string? Reason)>();
            if (machine.Disabled) throw MachineRules.Disabled(machineId, machine.Reason);
            renewed = await batch.Grid.ReadSingleOrDefaultAsync<bool>();
        } // read to the end here, before the commit
        if (!renewed)
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
        return new ActivationGrant(organizationId, org.Name, product, org.Email, renewed, license!.Value.ValidUntil, license.Value.FileText);
    }

    /// <summary>
    /// The reads of an activation, in the order of its checks: membership, the server's license, the
    /// product, the user's assignment (locked: one user's activations are serialised, and an unassign
    /// waits), the machine's disabled state; then the renewal of the machine when it is active.
    /// </summary>
    private const string ActivationSql = """
        SELECT o.name, u.email FROM organization o JOIN organization_member m ON m.organization_id = o.id JOIN public.user_account u ON u.id = m.user_id
        WHERE o.id = @organizationId AND m.user_id = @userId;
        SELECT issued_at, valid_until, file_text FROM server_license WHERE id = 1;
        SELECT code, name, kind, subscription, expires_at, quota FROM licensed_product WHERE code = @productCode;
        SELECT true FROM license_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId FOR UPDATE;
        SELECT EXISTS (SELECT 1 FROM disabled_machine WHERE organization_id = @organizationId AND machine_id = @machineId),
               (SELECT reason FROM disabled_machine WHERE organization_id = @organizationId AND machine_id = @machineId);
        UPDATE machine_activation SET last_seen_at = @now, lease_expires_at = greatest(lease_expires_at, @leaseExpiresAt)
        WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND machine_id = @machineId
          AND deactivated_at IS NULL
        RETURNING true;
        """;

    /// <summary>
    /// Refuses a machine becoming active when the window already holds the limit's number of activations.
    /// The server admin's limit for the product never goes beyond the vendor's, even one set under an earlier .lic.
    /// </summary>
    private async Task RequireChurnAllowsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, long userId,
        ChurnLimit configured, ChurnLimit vendor)
    {
        var limit = await ChurnLimitRepository.ForProductAsync(connection, tx, productCode) is { } own ? own.Tighter(vendor) : configured;
        var recent = (await connection.QueryAsync<DateTime>("""
            SELECT at FROM machine_activation_event
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND at > @since
            ORDER BY at DESC LIMIT @count
            """, new { organizationId, productCode, userId, since = Now - limit.Window, count = limit.Activations }, tx)).AsList();
        if (recent.Count >= limit.Activations)
            throw MachineRules.Churned(productCode, limit, new DateTimeOffset(DateTime.SpecifyKind(recent[^1], DateTimeKind.Utc)) + limit.Window);
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

    /// <summary>
    /// Sent before a statement of its own (in the implicit transaction of their round trip): its commit does
    /// not wait for PostgreSQL to flush it to disk, which costs a checkout-and-release cycle about a quarter
    /// of its time on the bench machine. Only for writes that a database crash may lose without harm: a
    /// lost release or heartbeat leaves a session holding its seat a little longer, until its lease
    /// expires; it never hands out a seat. Seats taken and leases signed are always flushed first.
    /// </summary>
    public const string AsynchronousCommit = "SET LOCAL synchronous_commit = off;";
}

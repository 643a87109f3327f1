using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Settings;

/// <summary>The LDAP / Active Directory settings; the bind password protected by the server's keyring.</summary>
public sealed record LdapSettingsRow(bool LdapEnabled, string LdapHosts, int LdapPort, string LdapSecurity, string? LdapCaCertificate, string LdapBindDn,
    string? LdapBindPasswordProtected, string LdapSearchBase, string LdapUserFilter, string LdapEmailAttribute, string LdapNameAttribute, string LdapGroupFilter);

/// <summary>The OpenID Connect provider's settings; the client secret protected by the server's keyring.</summary>
public sealed record OidcSettingsRow(bool OidcEnabled, string OidcName, string OidcIssuer, string OidcClientId, string? OidcClientSecretProtected,
    string OidcScopes, string OidcEmailClaim, string OidcGroupsClaim);

/// <summary>Who may sign in with a password of this server's own once a directory or provider is set.</summary>
public enum LocalPasswords { Everyone, ServerAdmins }

/// <summary>A directory group that gives its people a role in an organization.</summary>
public sealed record GroupMappingRow(long Id, string Source, string GroupName, long OrganizationId, string OrganizationName, string Role);

/// <summary>The directory and provider settings (one row) and the group mappings, changed by a server admin and audited.</summary>
public sealed class DirectorySettingsRepository(NpgsqlDataSource db)
{
    public async Task<(LdapSettingsRow Ldap, OidcSettingsRow Oidc, LocalPasswords LocalPasswords)> GetAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        using var results = await connection.QueryMultipleAsync("""
            SELECT ldap_enabled, ldap_hosts, ldap_port, ldap_security, ldap_ca_certificate, ldap_bind_dn, ldap_bind_password_protected,
                   ldap_search_base, ldap_user_filter, ldap_email_attribute, ldap_name_attribute, ldap_group_filter FROM directory_settings WHERE id = 1;
            SELECT oidc_enabled, oidc_name, oidc_issuer, oidc_client_id, oidc_client_secret_protected, oidc_scopes, oidc_email_claim, oidc_groups_claim
            FROM directory_settings WHERE id = 1;
            SELECT local_passwords FROM directory_settings WHERE id = 1;
            """);
        var ldap = await results.ReadSingleAsync<LdapSettingsRow>();
        var oidc = await results.ReadSingleAsync<OidcSettingsRow>();
        var local = await results.ReadSingleAsync<string>() == "server_admins" ? LocalPasswords.ServerAdmins : LocalPasswords.Everyone;
        return (ldap, oidc, local);
    }

    /// <summary>Saves the LDAP settings; <paramref name="keepPassword"/> keeps the stored bind password.</summary>
    public async Task SaveLdapAsync(LdapSettingsRow row, bool keepPassword, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            UPDATE directory_settings SET ldap_enabled = @LdapEnabled, ldap_hosts = @LdapHosts, ldap_port = @LdapPort, ldap_security = @LdapSecurity,
                ldap_ca_certificate = @LdapCaCertificate, ldap_bind_dn = @LdapBindDn,
                ldap_bind_password_protected = CASE WHEN @keepPassword THEN ldap_bind_password_protected ELSE @LdapBindPasswordProtected END,
                ldap_search_base = @LdapSearchBase, ldap_user_filter = @LdapUserFilter, ldap_email_attribute = @LdapEmailAttribute,
                ldap_name_attribute = @LdapNameAttribute, ldap_group_filter = @LdapGroupFilter, updated_at = now()
            WHERE id = 1
            """, new
        {
            row.LdapEnabled, row.LdapHosts, row.LdapPort, row.LdapSecurity, row.LdapCaCertificate, row.LdapBindDn, row.LdapBindPasswordProtected,
            row.LdapSearchBase, row.LdapUserFilter, row.LdapEmailAttribute, row.LdapNameAttribute, row.LdapGroupFilter, keepPassword,
        }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "server.directory_updated", row.LdapHosts,
            $"{(row.LdapEnabled ? "on" : "off")}, port {row.LdapPort}, {row.LdapSecurity}");
        await tx.CommitAsync();
    }

    /// <summary>Saves the OpenID Connect settings; <paramref name="keepSecret"/> keeps the stored client secret.</summary>
    public async Task SaveOidcAsync(OidcSettingsRow row, bool keepSecret, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            UPDATE directory_settings SET oidc_enabled = @OidcEnabled, oidc_name = @OidcName, oidc_issuer = @OidcIssuer, oidc_client_id = @OidcClientId,
                oidc_client_secret_protected = CASE WHEN @keepSecret THEN oidc_client_secret_protected ELSE @OidcClientSecretProtected END,
                oidc_scopes = @OidcScopes, oidc_email_claim = @OidcEmailClaim, oidc_groups_claim = @OidcGroupsClaim, updated_at = now()
            WHERE id = 1
            """, new
        {
            row.OidcEnabled, row.OidcName, row.OidcIssuer, row.OidcClientId, row.OidcClientSecretProtected, row.OidcScopes, row.OidcEmailClaim,
            row.OidcGroupsClaim, keepSecret,
        }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "server.sso_updated", row.OidcIssuer, row.OidcEnabled ? "on" : "off");
        await tx.CommitAsync();
    }

    /// <summary>Sets who may sign in with a local password. Turning them off needs a directory or provider in use.</summary>
    public async Task<bool> SetLocalPasswordsAsync(LocalPasswords value, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var text = value == LocalPasswords.ServerAdmins ? "server_admins" : "everyone";
        var changed = await connection.ExecuteAsync("""
            UPDATE directory_settings SET local_passwords = @text, updated_at = now()
            WHERE id = 1 AND local_passwords <> @text AND (@text = 'everyone' OR ldap_enabled OR oidc_enabled)
            """, new { text }, tx);
        if (changed == 1) await AuditRepository.WriteAsync(connection, tx, actor, null, "server.local_passwords", text);
        await tx.CommitAsync();
        return changed == 1;
    }

    public async Task<IReadOnlyList<GroupMappingRow>> MappingsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<GroupMappingRow>("""
            SELECT m.id, m.source, m.group_name, m.organization_id, o.name AS organization_name, m.role
            FROM directory_group_mapping m JOIN organization o ON o.id = m.organization_id
            ORDER BY m.source, lower(m.group_name), o.name
            """)).ToList();
    }

    /// <summary>Adds a mapping; false when the organization does not exist or the same mapping exists.</summary>
    public async Task<bool> AddMappingAsync(string source, string groupName, long organizationId, string role, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var organization = await connection.QuerySingleOrDefaultAsync<string?>("""
            INSERT INTO directory_group_mapping (source, group_name, organization_id, role)
            SELECT @source, @groupName, o.id, @role FROM organization o WHERE o.id = @organizationId
            ON CONFLICT DO NOTHING
            RETURNING (SELECT name FROM organization WHERE id = organization_id)
            """, new { source, groupName, organizationId, role }, tx);
        if (organization is not null) await AuditRepository.WriteAsync(connection, tx, actor, null, "server.group_mapping_added", groupName, $"{source}: {role} of {organization}");
        await tx.CommitAsync();
        return organization is not null;
    }

    /// <summary>Every organization's id and name, for choosing the one a mapping gives a place in.</summary>
    public async Task<IReadOnlyList<(long Id, string Name)>> OrganizationsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<(long, string)>("SELECT id, name FROM organization ORDER BY lower(name), id")).ToList();
    }

    public async Task<bool> RemoveMappingAsync(long id, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var removed = await connection.QuerySingleOrDefaultAsync<(string GroupName, string Organization, string Source)?>(
            "DELETE FROM directory_group_mapping m WHERE id = @id RETURNING group_name, (SELECT name FROM organization WHERE id = m.organization_id), source",
            new { id }, tx);
        if (removed is { } r) await AuditRepository.WriteAsync(connection, tx, actor, null, "server.group_mapping_removed", r.GroupName, $"{r.Source}: {r.Organization}");
        await tx.CommitAsync();
        return removed is not null;
    }
}

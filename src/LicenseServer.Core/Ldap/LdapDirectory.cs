namespace LicenseServer.Core.Ldap;

/// <summary>How the server reaches the directory and finds people in it.</summary>
/// <param name="UserFilter">An RFC 4515 filter where <c>{0}</c> stands for what the person typed (escaped).</param>
/// <param name="GroupFilter">Finds the groups of a person; <c>{0}</c> stands for the person's DN (escaped).</param>
public sealed record LdapConfig(LdapEndpoint Endpoint, string BindDn, string BindPassword, string SearchBase, string UserFilter,
    string EmailAttribute, string NameAttribute, string GroupFilter);

public enum LdapStatus { Success, Invalid, Disabled, NoEmail, Unavailable }

/// <summary>What the directory said of a sign-in: on success the person's entry, email, name and groups.</summary>
public sealed record LdapSignIn(LdapStatus Status, string? Dn = null, string? Email = null, string? DisplayName = null,
    IReadOnlyList<string>? Groups = null, string? Problem = null);

/// <summary>What the directory says of an entry a person signed in with; Unavailable when it gave no clear answer.</summary>
public enum LdapCheck { Active, Gone, Disabled, Unavailable }

/// <summary>
/// Sign-in against an LDAP directory or Active Directory: the server binds with its own account, finds exactly one
/// entry with the user filter, reads its groups, then binds as that entry with the person's password (never stored).
/// </summary>
public static class LdapDirectory
{
    /// <summary>
    /// What tells an entry is disabled: Active Directory's account-disabled flag and expiry, OpenLDAP's password policy
    /// lock by an administrator, 389 DS / FreeIPA's lock; and the groups of the entry.
    /// </summary>
    private static readonly string[] StateAttributes = ["userAccountControl", "accountExpires", "pwdAccountLockedTime", "nsAccountLock", "memberOf"];

    public static async Task<LdapSignIn> AuthenticateAsync(LdapConfig config, string login, string password, CancellationToken cancel = default)
    {
        if (string.IsNullOrWhiteSpace(login) || string.IsNullOrEmpty(password)) return new LdapSignIn(LdapStatus.Invalid);
        try
        {
            await using var connection = await OpenAsServerAsync(config, cancel);
            var entries = await connection.SearchAsync(config.SearchBase, Substitute(config.UserFilter, login),
                [config.EmailAttribute, config.NameAttribute, .. StateAttributes], sizeLimit: 2, cancel);
            // None is an unknown person; two mean the filter does not name one person, and neither signs in.
            if (entries.Count != 1) return new LdapSignIn(LdapStatus.Invalid);
            var entry = entries[0];
            if (IsDisabled(entry)) return new LdapSignIn(LdapStatus.Disabled, entry.Dn);
            var groups = await GroupsAsync(connection, config, entry, cancel);
            if (!await connection.BindAsync(entry.Dn, password, cancel)) return new LdapSignIn(LdapStatus.Invalid, entry.Dn);
            var email = entry.First(config.EmailAttribute)?.Trim();
            if (string.IsNullOrEmpty(email)) return new LdapSignIn(LdapStatus.NoEmail, entry.Dn);
            return new LdapSignIn(LdapStatus.Success, entry.Dn, email, entry.First(config.NameAttribute), groups);
        }
        catch (LdapException e)
        {
            return new LdapSignIn(LdapStatus.Unavailable, Problem: e.Message);
        }
    }

    /// <summary>
    /// Whether each entry people signed in with still exists and is enabled, over one connection. Throws
    /// <see cref="LdapException"/> when the directory cannot be reached or refuses the server's bind; an entry the
    /// directory gives no clear answer for (an error of its own) is <see cref="LdapCheck.Unavailable"/>.
    /// </summary>
    public static async Task<IReadOnlyList<LdapCheck>> CheckAsync(LdapConfig config, IReadOnlyList<string> dns, CancellationToken cancel = default)
    {
        await using var connection = await OpenAsServerAsync(config, cancel);
        var checks = new List<LdapCheck>(dns.Count);
        foreach (var dn in dns)
        {
            try
            {
                var entries = await connection.SearchAsync(dn, "(objectClass=*)", StateAttributes, 1, cancel, baseOnly: true);
                checks.Add(entries.Count == 0 ? LdapCheck.Gone : IsDisabled(entries[0]) ? LdapCheck.Disabled : LdapCheck.Active);
            }
            catch (LdapException e) when (e.ResultCode == NoSuchObject)
            {
                checks.Add(LdapCheck.Gone);
            }
            catch (LdapException)
            {
                checks.Add(LdapCheck.Unavailable);
            }
        }
        return checks;
    }

    /// <summary>The settings page's test: binds, finds <paramref name="login"/> and says in a sentence what it found.</summary>
    public static async Task<(bool Ok, string Message)> TestAsync(LdapConfig config, string login, CancellationToken cancel = default)
    {
        try
        {
            await using var connection = await OpenAsServerAsync(config, cancel);
            if (string.IsNullOrWhiteSpace(login)) return (true, "The server reached the directory and its bind DN and password were accepted.");
            var entries = await connection.SearchAsync(config.SearchBase, Substitute(config.UserFilter, login.Trim()),
                [config.EmailAttribute, config.NameAttribute, .. StateAttributes], sizeLimit: 2, cancel);
            if (entries.Count == 0) return (false, $"The directory was reached, but the user filter finds no one for \"{login.Trim()}\" under {config.SearchBase}.");
            if (entries.Count > 1) return (false, $"The user filter finds more than one entry for \"{login.Trim()}\": it must name one person.");
            var entry = entries[0];
            var groups = await GroupsAsync(connection, config, entry, cancel);
            var email = entry.First(config.EmailAttribute);
            return (email is not null,
                $"Found {entry.Dn}: email {email ?? $"(none: the entry has no {config.EmailAttribute}, so this person cannot sign in)"}, " +
                $"name {entry.First(config.NameAttribute) ?? "(none)"}, {(IsDisabled(entry) ? "disabled" : "enabled")}, " +
                $"groups: {(groups.Count == 0 ? "none" : string.Join("; ", groups))}.");
        }
        catch (LdapException e)
        {
            return (false, e.Message);
        }
    }

    private const int NoSuchObject = 32;

    private static async Task<LdapConnection> OpenAsServerAsync(LdapConfig config, CancellationToken cancel)
    {
        var connection = await LdapConnection.OpenAsync(config.Endpoint, cancel);
        try
        {
            if (!await connection.BindAsync(config.BindDn, config.BindPassword, cancel))
                throw new LdapException("The directory refused the server's bind DN or password: check them in the directory settings.", 49);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The entry's memberOf values (Active Directory, or OpenLDAP's memberof overlay) and the groups the group filter finds.</summary>
    private static async Task<IReadOnlyList<string>> GroupsAsync(LdapConnection connection, LdapConfig config, LdapEntry entry, CancellationToken cancel)
    {
        var groups = new List<string>(entry.All("memberOf"));
        if (!string.IsNullOrWhiteSpace(config.GroupFilter))
            groups.AddRange((await connection.SearchAsync(config.SearchBase, Substitute(config.GroupFilter, entry.Dn), ["cn"], 0, cancel)).Select(g => g.Dn));
        return groups.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The filter with every <c>{0}</c> replaced by the escaped value: what a person types never adds filter syntax.</summary>
    public static string Substitute(string filter, string value) => filter.Replace("{0}", LdapFilter.Escape(value), StringComparison.Ordinal);

    /// <summary>
    /// Disabled: Active Directory's ACCOUNTDISABLE flag (2) or an expiry (100 ns since 1601) that has passed; OpenLDAP's
    /// lock by an administrator (pwdAccountLockedTime 000001010000Z; a lockout after wrong passwords ends on its own and
    /// refuses the bind meanwhile); nsAccountLock.
    /// </summary>
    private static bool IsDisabled(LdapEntry entry) =>
        (long.TryParse(entry.First("userAccountControl"), out var control) && (control & 2) != 0)
        || (long.TryParse(entry.First("accountExpires"), out var expires) && expires > 0 && expires < DateTime.UtcNow.ToFileTimeUtc())
        || entry.First("pwdAccountLockedTime") == "000001010000Z"
        || string.Equals(entry.First("nsAccountLock"), "true", StringComparison.OrdinalIgnoreCase);
}

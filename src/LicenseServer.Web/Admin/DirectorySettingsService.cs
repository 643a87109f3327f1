using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using LicenseServer.Core.Ldap;
using LicenseServer.Data.Settings;
using Microsoft.AspNetCore.DataProtection;

namespace LicenseServer.Web.Admin;

/// <summary>The directory and provider settings as the sign-in code uses them: secrets in the clear, in memory only.</summary>
public sealed record DirectoryState(LdapSettingsRow LdapRow, OidcSettingsRow OidcRow, LocalPasswords LocalPasswords, LdapConfig? Ldap, OidcConfig? Oidc)
{
    /// <summary>Whether a person who is not a server admin may sign in with a password of this server's own.</summary>
    public bool LocalPasswordsFor(bool serverAdmin) => serverAdmin || LocalPasswords == LocalPasswords.Everyone || (Ldap is null && Oidc is null);
}

/// <summary>An OpenID provider as the sign-in code uses it.</summary>
public sealed record OidcConfig(string Name, string Issuer, string ClientId, string ClientSecret, string Scopes, string EmailClaim, string GroupsClaim);

/// <summary>
/// The server admin's settings for signing in through the company's LDAP directory or Active Directory and an OpenID
/// Connect provider: each input checked with a sentence that says what is wrong, secrets protected by the keyring.
/// </summary>
public sealed partial class DirectorySettingsService(DirectorySettingsRepository settings, IDataProtectionProvider protection)
{
    public static readonly TimeSpan LdapTimeout = TimeSpan.FromSeconds(5);
    private readonly IDataProtector _bindPassword = protection.CreateProtector("Kit.DirectoryBindPassword.v1");
    private readonly IDataProtector _clientSecret = protection.CreateProtector("Kit.OidcClientSecret.v1");

    public async Task<DirectoryState> GetAsync()
    {
        var (ldap, oidc, local) = await settings.GetAsync();
        var ldapConfig = ldap.LdapEnabled && ldap.LdapBindPasswordProtected is { } password
            ? new LdapConfig(new LdapEndpoint(Hosts(ldap.LdapHosts), ldap.LdapPort, Security(ldap.LdapSecurity), ldap.LdapCaCertificate, LdapTimeout),
                ldap.LdapBindDn, _bindPassword.Unprotect(password), ldap.LdapSearchBase, ldap.LdapUserFilter, ldap.LdapEmailAttribute,
                ldap.LdapNameAttribute, ldap.LdapGroupFilter)
            : null;
        var oidcConfig = oidc.OidcEnabled && oidc.OidcClientSecretProtected is { } secret
            ? new OidcConfig(oidc.OidcName, oidc.OidcIssuer, oidc.OidcClientId, _clientSecret.Unprotect(secret), oidc.OidcScopes, oidc.OidcEmailClaim, oidc.OidcGroupsClaim)
            : null;
        return new DirectoryState(ldap, oidc, local, ldapConfig, oidcConfig);
    }

    public async Task SaveLdapAsync(LdapForm form, long actor)
    {
        var current = (await settings.GetAsync()).Ldap;
        var hosts = Hosts(form.Hosts ?? "");
        if (form.Enabled && hosts.Count == 0) throw new ServerSettingsException("Enter the directory's host name, or several separated by spaces.");
        if (hosts.Any(h => !HostName().IsMatch(h))) throw new ServerSettingsException("A host is a name or an address without a scheme or port, such as dc1.corp.example.");
        var security = form.Security switch
        {
            "ldaps" or "starttls" or "none" => form.Security,
            _ => throw new ServerSettingsException("Choose how the connection is protected: LDAPS, StartTLS or none."),
        };
        // Without TLS people's passwords would cross the network in clear: only a directory on this machine may do without.
        if (security == "none" && hosts.Any(h => !IsLoopback(h)))
            throw new ServerSettingsException("Choose LDAPS or StartTLS: without TLS people's passwords would cross the network in clear text (plain LDAP is accepted only for a directory on this machine).");
        if (!int.TryParse(form.Port, out var port) || port is < 1 or > 65535) throw new ServerSettingsException("The port is a number from 1 to 65535, usually 389, or 636 for LDAPS.");
        var ca = string.IsNullOrWhiteSpace(form.CaCertificate) ? null : form.CaCertificate.Trim();
        if (ca is not null)
        {
            var certificates = new X509Certificate2Collection();
            try { certificates.ImportFromPem(ca); } catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException) { certificates.Clear(); }
            if (certificates.Count == 0) throw new ServerSettingsException("The CA certificate must be PEM text, beginning with -----BEGIN CERTIFICATE-----.");
        }
        if (form.Enabled && string.IsNullOrWhiteSpace(form.BindDn)) throw new ServerSettingsException("Enter the bind DN of the account the server searches the directory with.");
        var keepPassword = string.IsNullOrEmpty(form.BindPassword);
        if (form.Enabled && keepPassword && current.LdapBindPasswordProtected is null) throw new ServerSettingsException("Enter the bind password.");
        if (form.Enabled && string.IsNullOrWhiteSpace(form.SearchBase)) throw new ServerSettingsException("Enter the search base, such as dc=corp,dc=example.");
        var userFilter = (form.UserFilter ?? "").Trim();
        CheckFilter(userFilter, "user filter", required: true);
        var groupFilter = (form.GroupFilter ?? "").Trim();
        CheckFilter(groupFilter, "group filter", required: false);
        var email = Attribute(form.EmailAttribute, "email attribute");
        var name = Attribute(form.NameAttribute, "display name attribute");
        // The stored password goes only where it went before: whoever changes where it is sent types it again.
        if (keepPassword && current.LdapBindPasswordProtected is not null && (string.Join(' ', hosts) != current.LdapHosts || port != current.LdapPort
                || security != current.LdapSecurity || ca != current.LdapCaCertificate || (form.BindDn ?? "").Trim() != current.LdapBindDn))
            throw new ServerSettingsException("Enter the bind password again: the directory's address, connection, CA or bind DN changed.");
        await settings.SaveLdapAsync(new LdapSettingsRow(form.Enabled, string.Join(' ', hosts), port, security, ca, (form.BindDn ?? "").Trim(),
            keepPassword ? null : _bindPassword.Protect(form.BindPassword!), (form.SearchBase ?? "").Trim(), userFilter, email, name, groupFilter), keepPassword, actor);
    }

    public async Task SaveOidcAsync(OidcForm form, long actor)
    {
        var current = (await settings.GetAsync()).Oidc;
        var name = (form.Name ?? "").Trim();
        if (form.Enabled && name.Length is 0 or > 40) throw new ServerSettingsException("Enter the provider's name as people know it (at most 40 characters), such as Okta.");
        // As the provider's discovery document names it, trailing slash and all: ID tokens must name exactly that.
        var issuer = (form.Issuer ?? "").Trim();
        if (form.Enabled || issuer.Length > 0)
        {
            if (!Uri.TryCreate(issuer, UriKind.Absolute, out var uri) || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
                || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
                throw new ServerSettingsException("The issuer is the provider's https:// address, as its discovery document names it (http:// only on this machine).");
        }
        if (form.Enabled && string.IsNullOrWhiteSpace(form.ClientId)) throw new ServerSettingsException("Enter the client ID the provider gave this server.");
        var keepSecret = string.IsNullOrEmpty(form.ClientSecret);
        if (form.Enabled && keepSecret && current.OidcClientSecretProtected is null) throw new ServerSettingsException("Enter the client secret the provider gave this server.");
        var scopes = string.Join(' ', (form.Scopes ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (!scopes.Split(' ').Contains("openid") || scopes.Any(c => c is '"' or '\\' || char.IsControl(c)))
            throw new ServerSettingsException("The scopes are separated by spaces and include openid, such as: openid email profile.");
        if (keepSecret && current.OidcClientSecretProtected is not null && (issuer != current.OidcIssuer || (form.ClientId ?? "").Trim() != current.OidcClientId))
            throw new ServerSettingsException("Enter the client secret again: the issuer or client ID changed.");
        var emailClaim = Claim(form.EmailClaim, "email claim", required: true);
        var groupsClaim = Claim(form.GroupsClaim, "groups claim", required: false);
        await settings.SaveOidcAsync(new OidcSettingsRow(form.Enabled, name, issuer, (form.ClientId ?? "").Trim(),
            keepSecret ? null : _clientSecret.Protect(form.ClientSecret!), scopes, emailClaim, groupsClaim), keepSecret, actor);
    }

    public async Task SetLocalPasswordsAsync(string? value, long actor)
    {
        var local = value switch
        {
            "everyone" => LocalPasswords.Everyone,
            "server_admins" => LocalPasswords.ServerAdmins,
            _ => throw new ServerSettingsException("Choose who may sign in with a password of this server: everyone, or server admins only."),
        };
        var state = await GetAsync();
        if (local == LocalPasswords.ServerAdmins && state.Ldap is null && state.Oidc is null)
            throw new ServerSettingsException("Turn on a directory or an OpenID provider first: otherwise no one but server admins could sign in.");
        await settings.SetLocalPasswordsAsync(local, actor);
    }

    public async Task AddMappingAsync(string? source, string? group, string? organizationId, string? role, long actor)
    {
        if (source is not ("ldap" or "oidc")) throw new ServerSettingsException("Choose where the group comes from: the directory or the OpenID provider.");
        var name = (group ?? "").Trim();
        if (name.Length is 0 or > 1000) throw new ServerSettingsException("Enter the group: its DN for the directory, such as cn=engineering,ou=groups,dc=corp,dc=example, or its name as the provider sends it.");
        if (role is not ("admin" or "member")) throw new ServerSettingsException("Choose the role the group gives: Admin or Member.");
        if (!long.TryParse(organizationId, out var organization)) throw new ServerSettingsException("Choose the organization the group gives a place in.");
        if (!await settings.AddMappingAsync(source, name, organization, role, actor))
            throw new ServerSettingsException("That organization does not exist, or this group already gives a place in it.");
    }

    public Task<IReadOnlyList<GroupMappingRow>> MappingsAsync() => settings.MappingsAsync();

    public Task<bool> RemoveMappingAsync(long id, long actor) => settings.RemoveMappingAsync(id, actor);

    public static IReadOnlyList<string> Hosts(string text) => text.Split([' ', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static LdapSecurity Security(string text) => text switch { "ldaps" => LdapSecurity.Ldaps, "none" => LdapSecurity.None, _ => LdapSecurity.StartTls };

    private static bool IsLoopback(string host) => host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static void CheckFilter(string filter, string what, bool required)
    {
        if (filter.Length == 0 && !required) return;
        if (!filter.Contains("{0}", StringComparison.Ordinal))
            throw new ServerSettingsException($"The {what} must contain {{0}} where the {(what == "user filter" ? "name the person types" : "person's DN")} goes, such as (&(objectClass=person)(mail={{0}})).");
        if (LdapFilter.Validate(LdapDirectory.Substitute(filter, "x")) is { } problem) throw new ServerSettingsException($"The {what} is not a valid LDAP filter: {problem}");
    }

    private static string Attribute(string? text, string what)
    {
        var value = (text ?? "").Trim();
        return AttributeName().IsMatch(value) ? value : throw new ServerSettingsException($"The {what} is an LDAP attribute name, such as mail or displayName.");
    }

    private static string Claim(string? text, string what, bool required)
    {
        var value = (text ?? "").Trim();
        if (value.Length == 0 && !required) return value;
        return ClaimName().IsMatch(value) ? value : throw new ServerSettingsException($"The {what} is the name of a claim in the provider's ID token, such as email or groups.");
    }

    [GeneratedRegex(@"^[A-Za-z0-9.\-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$")]
    private static partial Regex HostName();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9-]{0,63}$")]
    private static partial Regex AttributeName();

    [GeneratedRegex(@"^[A-Za-z0-9_.:/\-]{1,100}$")]
    private static partial Regex ClaimName();
}

/// <summary>The directory form as posted.</summary>
public sealed record LdapForm(bool Enabled, string? Hosts, string? Port, string? Security, string? CaCertificate, string? BindDn, string? BindPassword,
    string? SearchBase, string? UserFilter, string? EmailAttribute, string? NameAttribute, string? GroupFilter);

/// <summary>The OpenID provider form as posted.</summary>
public sealed record OidcForm(bool Enabled, string? Name, string? Issuer, string? ClientId, string? ClientSecret, string? Scopes, string? EmailClaim, string? GroupsClaim);

using LicenseServer.Core.Ldap;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Admin;

namespace LicenseServer.Web.Accounts;

/// <summary>
/// Signing in through the directory or the OpenID provider once it has vouched for a person: their account found,
/// linked or made, enabled again if only the directory had disabled it, their group mappings applied, the sign-in
/// audited with its source.
/// </summary>
public sealed class DirectorySignInService(DirectoryAccountRepository directoryAccounts, UserAccountRepository accounts, ILogger<DirectorySignInService> logger)
{
    public const string ViaLdap = "through the directory (LDAP)";
    public static string ViaOidc(string provider) => $"through {provider} (OpenID Connect)";

    public static readonly SignInRefusal DirectoryUnavailable = new("directory_unavailable",
        "The company directory cannot be reached, so directory accounts cannot sign in right now. Try again in a few minutes, or ask your IT department.");
    public static readonly SignInRefusal NoEmail = new("directory_no_email",
        "Your directory entry has no email address, which this server needs to know you: ask your IT department to add one.");

    /// <summary>
    /// A sign-in with the directory's password. Null when the directory does not know the person or the password is
    /// wrong (the caller refuses it as any wrong password); a refusal with a sentence when the directory is down or
    /// the entry has no email; the account otherwise.
    /// </summary>
    public async Task<(UserAccountRow? Account, SignInRefusal? Refusal, string? Failure)> LdapAsync(LdapConfig config, string login, string password)
    {
        var result = await LdapDirectory.AuthenticateAsync(config, login, password);
        switch (result.Status)
        {
            case LdapStatus.Unavailable:
                logger.LogWarning("A directory sign-in failed because the directory could not be used: {Problem}", result.Problem);
                return (null, DirectoryUnavailable, "the directory cannot be reached");
            case LdapStatus.NoEmail:
                return (null, NoEmail, "the directory entry has no email");
            case LdapStatus.Disabled:
                return (null, null, "the directory entry is disabled");
            case LdapStatus.Invalid:
                return (null, null, result.Dn is null ? "not found in the directory" : "wrong directory password");
        }
        var (account, outcome) = await SignInAsync(new DirectoryIdentity("ldap", result.Dn!, result.Email!, result.DisplayName), ViaLdap, result.Groups ?? []);
        return account is not null ? (account, null, null) : (null, null, Failure(outcome));
    }

    /// <summary>Why a sign-in the directory or provider vouched for was refused, for the audit.</summary>
    public static string Failure(DirectorySignIn outcome) => outcome switch
    {
        DirectorySignIn.ServerAdmin => "a server admin's account signs in with its password of this server",
        DirectorySignIn.Conflict => "another directory entry signs in to the account of this email",
        _ => "the account is disabled",
    };

    /// <summary>
    /// The account of a person the directory or provider vouched for, or why not. Group mappings are applied when the
    /// groups are known (null: the provider did not say, and places given before are kept).
    /// </summary>
    public async Task<(UserAccountRow? Account, DirectorySignIn Outcome)> SignInAsync(DirectoryIdentity identity, string via, IReadOnlyCollection<string>? groups)
    {
        var (outcome, userId) = await directoryAccounts.SignInAsync(identity, via);
        if (outcome != DirectorySignIn.Ready) return (null, outcome);
        if (groups is not null) await directoryAccounts.ApplyGroupsAsync(userId, identity.Source, groups);
        logger.LogInformation("User {UserId} signed in {Via}", userId, via);
        return (await accounts.FindByIdAsync(userId), outcome);
    }
}

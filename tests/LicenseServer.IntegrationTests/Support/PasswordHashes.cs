using System.Collections.Concurrent;
using LicenseServer.Web.Accounts;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// The server's own hash of a password (PBKDF2-HMAC-SHA512, 210,000 iterations: a few hundred ms of CPU
/// each), made once per password per run. Tests that put users into the database directly share it: a
/// user can sign in with the password all the same, and the run does not spend minutes hashing setup data.
/// Anything a test proves about hashing goes through <see cref="AccountService"/>, which salts every hash anew.
/// </summary>
public static class PasswordHashes
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Hashes = new(StringComparer.Ordinal);

    public static string Of(string password) => Hashes.GetOrAdd(password, p => new Lazy<string>(() => AccountService.Hash(p))).Value;
}

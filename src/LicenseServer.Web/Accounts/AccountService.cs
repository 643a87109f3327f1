using System.Security.Cryptography;
using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Data.Accounts;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Admin;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace LicenseServer.Web.Accounts;

public enum SignInStatus { Success, Invalid, Throttled, Refused }

/// <summary>Why a sign-in with the right credentials, or through a directory that could not be asked, was refused: a stable code and a sentence.</summary>
public sealed record SignInRefusal(string Code, string Message);

public sealed record SignInResult(SignInStatus Status, UserAccountRow? Account = null, TimeSpan RetryAfter = default, SignInRefusal? Refusal = null);

/// <summary>What the Setup page's attempt came to; <c>RetryAfter</c> is set when too many wrong codes came from the address.</summary>
public sealed record SetupResult(DefaultAccountOutcome Outcome, TimeSpan? RetryAfter = null)
{
    public bool Throttled => RetryAfter is not null;
}

public sealed class PasswordRuleException(string message) : Exception(message);

/// <summary>
/// Sign-in, password changes, the SQL fallback, the default account.
/// Passwords: ASP.NET Core's PasswordHasher, PBKDF2-HMAC-SHA512 at 210,000 iterations.
/// </summary>
public sealed class AccountService(UserAccountRepository accounts, SignInFailureRepository failures, SetupCodeService setupCodes, AuditRepository audit,
    DirectorySettingsService directory, DirectorySignInService directorySignIn, TimeProvider clock, ILogger<AccountService> logger)
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 256;
    public const int MaxFailures = 5;
    public static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(15);
    /// <summary>Failures per email in <see cref="AccountFailureWindow"/>, whatever the address: many addresses cannot guess one password.</summary>
    public const int MaxAccountFailures = 100;
    public static readonly TimeSpan AccountFailureWindow = TimeSpan.FromHours(1);
    private static readonly SignInLimits Limits = new(MaxFailures, FailureWindow, MaxAccountFailures, AccountFailureWindow);

    /// <summary>
    /// Wrong setup codes: per address only. A 128-bit code cannot be guessed from many addresses either, and a
    /// cap over all addresses would let anyone on the network keep the real operator out of the Setup page.
    /// </summary>
    private static readonly SignInLimits SetupCodeLimits = new(MaxFailures, FailureWindow, int.MaxValue, FailureWindow);

    private static readonly PasswordHasher<object> Hasher = new(Options.Create(new PasswordHasherOptions
    {
        CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3,
        IterationCount = 210_000,
    }));

    private static readonly object Nobody = new();

    // A real hash of a random password: verifying against it costs what a real check costs,
    // so an unknown email takes as long as a known one.
    private static readonly string DummyHash = Hasher.HashPassword(Nobody, Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));

    public static string Hash(string password) => Hasher.HashPassword(Nobody, password);

    public static readonly SignInRefusal LocalPasswordsOff = new("password_sign_in_off",
        "Passwords of this server are turned off for your account: sign in with your company account instead.");

    /// <summary>
    /// Sign-in with a password of this server's own or, when a directory is set, the directory's. The answer, and the
    /// local work done for it, depend only on whether the password is right, never on whether the email exists:
    /// throttled attempts are refused before the account is looked up, and every other attempt costs one PBKDF2
    /// check. A local password is tried first (a server admin signs in while the directory is down); when it is not
    /// right, the directory is asked. Once local passwords are turned off, only server admins' are accepted.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string email, string password, string address)
    {
        var login = (email ?? "").Trim();
        email = NormalizeEmail(email);
        // No account has a longer email; a longer one is throttled under its first 254 characters.
        var key = email.Length > 254 ? email[..254] : email;
        var now = clock.GetUtcNow();
        var attempt = await failures.BeginAsync(address, key, now, Limits);
        if (attempt.Throttled)
        {
            var retry = attempt.RetryAt!.Value - now;
            return new SignInResult(SignInStatus.Throttled, RetryAfter: retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1));
        }

        var state = await directory.GetAsync();
        var account = await accounts.FindByEmailAsync(email);
        // An account linked to the directory or the provider signs in through it only.
        var passwordRight = account is { DirectoryLinked: false } && await CheckPasswordAsync(account, password);
        // Every answer costs one real hash check, so timing tells apart neither unknown emails nor invited
        // accounts without a password nor passwords set by SQL nor accounts that sign in through the directory.
        if (account is not { DirectoryLinked: false, PasswordEncrypted: true, Password.Length: > 0 }) Hasher.VerifyHashedPassword(Nobody, DummyHash, password);
        var localAllowed = account is null || state.LocalPasswordsFor(account.IsServerAdmin);
        var valid = passwordRight && !account!.Disabled && localAllowed;
        var failure = account is null ? "no account has this email" : account.Disabled ? "the account is disabled"
            : account.DirectoryLinked ? "the account signs in through the directory" : "wrong password";
        if (!valid && state.Ldap is not null && password.Length <= MaxPasswordLength)
        {
            var (viaDirectory, refusal, why) = await directorySignIn.LdapAsync(state.Ldap, login, password);
            if (refusal is not null) return await RefuseAsync(account?.Email, refusal);
            if (viaDirectory is not null)
            {
                await failures.SucceededAsync(attempt, address, key);
                return new SignInResult(SignInStatus.Success, viaDirectory);
            }
            failure = why!;
        }
        if (passwordRight && !account!.Disabled && !localAllowed) return await RefuseAsync(account.Email, LocalPasswordsOff);
        // A refused attempt stays recorded as the failure it is. The server's audit names the account tried, never
        // text that matches none (it may be a password typed into the wrong field); either way one row is written.
        if (!valid)
        {
            await audit.RecordAsync(null, "account.sign_in_failed", account?.Email, failure);
            return new SignInResult(SignInStatus.Invalid);
        }
        await failures.SucceededAsync(attempt, address, key);
        await audit.RecordAsync(account!.Id, "account.signed_in", account.Email, "with a password of this server");
        logger.LogInformation("User {UserId} signed in", account!.Id);
        return new SignInResult(SignInStatus.Success, await accounts.FindByIdAsync(account.Id));
    }

    private async Task<SignInResult> RefuseAsync(string? email, SignInRefusal refusal)
    {
        await audit.RecordAsync(null, "account.sign_in_failed", email, refusal.Code);
        return new SignInResult(SignInStatus.Refused, Refusal: refusal);
    }

    private async Task<bool> CheckPasswordAsync(UserAccountRow account, string password)
    {
        if (string.IsNullOrEmpty(account.Password) || string.IsNullOrEmpty(password)) return false;
        if (!account.PasswordEncrypted)
        {
            // A plain password written by the documented SQL statement; accepted once, hashed at once.
            var matches = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(account.Password), Encoding.UTF8.GetBytes(password));
            if (!matches) return false;
            var hashed = await accounts.HashPlainPasswordAsync(account.Id, account.Password, Hash(password));
            if (hashed) logger.LogWarning("User {UserId} signed in with a password set by SQL; it is now hashed and must be changed", account.Id);
            return hashed;
        }
        var result = Hasher.VerifyHashedPassword(Nobody, account.Password, password);
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
            await accounts.UpgradeHashAsync(account.Id, account.Password, Hash(password));
        return result != PasswordVerificationResult.Failed;
    }

    public async Task<UserAccountRow> ChangePasswordAsync(long userId, string currentPassword, string newPassword, string confirmation)
    {
        var account = await accounts.FindByIdAsync(userId) ?? throw new PasswordRuleException("Your account no longer exists.");
        if (account.Password is null || !account.PasswordEncrypted
            || Hasher.VerifyHashedPassword(Nobody, account.Password, currentPassword) == PasswordVerificationResult.Failed)
            throw new PasswordRuleException("The current password is not correct.");
        CheckNewPassword(newPassword, confirmation);
        if (newPassword == currentPassword) throw new PasswordRuleException("Choose a password different from the current one.");
        await accounts.SetPasswordAsync(userId, Hash(newPassword));
        return (await accounts.FindByIdAsync(userId))!;
    }

    /// <summary>The reset-password command (without SQL).</summary>
    public async Task<bool> ResetPasswordAsync(string email, string newPassword)
    {
        CheckNewPassword(newPassword, newPassword);
        var account = await accounts.FindByEmailAsync(NormalizeEmail(email));
        if (account is null) return false;
        await accounts.SetPasswordAsync(account.Id, Hash(newPassword));
        return true;
    }

    public Task<bool> DefaultAccountExistsAsync() => accounts.DefaultAccountExistsAsync();

    /// <summary>The default account, a server admin, made by the server's own command. False when it exists already.</summary>
    public async Task<bool> CreateDefaultAccountAsync(string email, string password, string confirmation)
    {
        email = CheckDefaultAccount(email, password, confirmation);
        var created = await accounts.CreateDefaultAccountAsync(email, Hash(password));
        setupCodes.Spent();
        return created;
    }

    /// <summary>
    /// The default account from the Setup page: only with the setup code, whose wrong guesses are throttled per
    /// address as sign-ins are per (address, email).
    /// </summary>
    public async Task<SetupResult> CreateDefaultAccountAsync(string email, string password, string confirmation, string setupCode, string address)
    {
        email = CheckDefaultAccount(email, password, confirmation);
        var now = clock.GetUtcNow();
        var attempt = await failures.BeginAsync(address, SetupCodeThrottleKey, now, SetupCodeLimits);
        if (attempt.Throttled)
        {
            var retry = attempt.RetryAt!.Value - now;
            return new SetupResult(DefaultAccountOutcome.WrongSetupCode, retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1));
        }
        var outcome = SetupCode.LooksValid(setupCode)
            ? await accounts.CreateDefaultAccountAsync(email, Hash(password), SetupCode.Hash(setupCode))
            : DefaultAccountOutcome.WrongSetupCode;
        if (outcome == DefaultAccountOutcome.WrongSetupCode) return new SetupResult(outcome);
        await failures.SucceededAsync(attempt, address, SetupCodeThrottleKey);
        if (outcome == DefaultAccountOutcome.Created)
        {
            setupCodes.Spent();
            logger.LogInformation("The default account was created from {Address}", address);
        }
        return new SetupResult(outcome);
    }

    /// <summary>Where wrong setup codes are counted: not an email, so no account's sign-ins share its count.</summary>
    private const string SetupCodeThrottleKey = "(setup code)";

    private static string CheckDefaultAccount(string email, string password, string confirmation)
    {
        email = NormalizeEmail(email);
        if (!IsEmail(email)) throw new PasswordRuleException("Enter a valid email address, such as admin@example.com.");
        CheckNewPassword(password, confirmation);
        return email;
    }

    public static void CheckNewPassword(string password, string confirmation)
    {
        if (string.IsNullOrEmpty(password) || password.Length < MinPasswordLength)
            throw new PasswordRuleException($"The password must have at least {MinPasswordLength} characters.");
        if (password.Length > MaxPasswordLength)
            throw new PasswordRuleException($"The password must have at most {MaxPasswordLength} characters.");
        if (string.IsNullOrWhiteSpace(password))
            throw new PasswordRuleException("The password cannot be only spaces.");
        if (password != confirmation)
            throw new PasswordRuleException("The two passwords do not match.");
    }

    public static string NormalizeEmail(string? email) => (email ?? "").Trim().ToLowerInvariant();

    public static bool IsEmail(string email) =>
        email.Length is > 2 and <= 254 && System.Net.Mail.MailAddress.TryCreate(email, out var parsed) && parsed.Address == email;
}

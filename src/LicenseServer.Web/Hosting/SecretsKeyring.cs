using System.Security.Cryptography;
using LicenseServer.Core.Security;
using LicenseServer.Data.DataProtection;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Opens the secrets key (<c>Kit:Secrets:KeyFile</c>) at start, before anything is decrypted. A new installation
/// makes the file; an installation from before secrets keys makes it and moves its key ring under it. A node
/// without the file, or with another one, stops with a sentence saying what to copy where.
/// </summary>
public static class SecretsKeyring
{
    public static string KeyFilePath(KitOptions options) => string.IsNullOrWhiteSpace(options.Secrets.KeyFile)
        ? Path.Combine(KitOptions.Resolve(options.DataDirectory), "secrets.key")
        : KitOptions.Resolve(options.Secrets.KeyFile);

    public static SecretsKey Open(KitOptions options, DataProtectionKeyRepository ring, ILogger logger)
    {
        var path = KeyFilePath(options);
        var (recorded, rows) = ring.State();
        SecretsKey key;
        if (File.Exists(path))
        {
            try
            {
                key = SecretsKey.Read(path);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                throw new StartupException($"The secrets key file cannot be read: {e.Message} Restore the file from where you keep it, or copy it from another node.");
            }
        }
        else if (recorded is null)
        {
            key = SecretsKey.Create(path);
            logger.LogWarning("Made the secrets key file {Path}: it encrypts the secrets kept in the database. Keep a copy apart from the database's " +
                              "backups, and put the same file on every node", path);
        }
        else
        {
            throw new StartupException($"The secrets key file {path} (Kit:Secrets:KeyFile) does not exist, but this database's secrets are encrypted " +
                $"with one (key id {recorded}). Copy the file from the first node or restore it from where you keep it, then start again. " +
                "Without it the server's key, mail passwords and webhook secrets cannot be read.");
        }

        recorded = ring.ClaimKeyId(key.Id, SecretsKey.IsEncrypted, key.Encrypt);
        if (recorded != key.Id)
            throw new StartupException($"The secrets key file {path} (key id {key.Id}) is not the one this database's secrets are encrypted with " +
                $"(key id {recorded}). Put the same file on every node: copy it from the first node or restore it from where you keep it, then start again.");
        if (rows > 0 && !CanRead(ring, key))
            throw new StartupException($"The secrets kept in this database cannot be decrypted with {path}. Restore the file that belongs to this database, then start again.");
        return key;
    }

    private static bool CanRead(DataProtectionKeyRepository ring, SecretsKey key)
    {
        try
        {
            foreach (var row in ring.GetAll()) key.Decrypt(row);
            return true;
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            return false;
        }
    }
}

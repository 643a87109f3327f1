using LicenseServer.Core.Activation;
using LicenseServer.Data.Activation;
using LicenseServer.Data.Settings;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Activation;

/// <summary>
/// The one-time setup code between activation and the default account. Activation makes it; it is written to
/// the server's log and to <c>setup-code</c> in the data directory (readable by the server's account only), and
/// the Setup page asks for it. Only its hash is in the database, so any node checks it; creating the default
/// account spends it. A server started activated without a default account and without a code makes one.
/// </summary>
public sealed class SetupCodeService(ServerSettingsRepository settings, ServerLicenseRepository licenses, KitOptions options, ILogger<SetupCodeService> logger)
    : IHostedService
{
    public const string FileName = "setup-code";

    public string FilePath => Path.Combine(KitOptions.Resolve(options.DataDirectory), FileName);

    /// <summary>Makes a new code (the one before stops working), writes it to the log and the file, and returns it.</summary>
    public async Task<string> IssueAsync() => (await IssueAsync(onlyIfNone: false))!;

    /// <summary>The new code, or null when <paramref name="onlyIfNone"/> and another node made one first.</summary>
    private async Task<string?> IssueAsync(bool onlyIfNone)
    {
        var code = SetupCode.New();
        if (!await settings.SetSetupCodeAsync(SetupCode.Hash(code), onlyIfNone)) return null;
        var path = FilePath;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Core.Security.OwnerOnlyFile.WriteAllText(path, code + Environment.NewLine);
            logger.LogWarning("Setup code: {Code}. The Setup page asks for it to create the default account; it is also in {Path}", code, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Setup code: {Code}. The Setup page asks for it to create the default account ({Path} could not be written: {Reason})", code, path, e.Message);
        }
        return code;
    }

    /// <summary>The default account exists: the file has nothing left to say.</summary>
    public void Spent()
    {
        try { File.Delete(FilePath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { logger.LogWarning("{Path} could not be deleted: {Reason}", FilePath, e.Message); }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await CheckAsync();
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            logger.LogWarning("The setup code could not be checked at start: {Reason}", e.Message);
        }
    }

    private async Task CheckAsync()
    {
        var (activated, defaultAccount) = await licenses.SetupStateAsync();
        if (!activated || defaultAccount) return;
        if (await IssueAsync(onlyIfNone: true) is not null) return;
        if (File.Exists(FilePath)) logger.LogWarning("The server waits for its default account: the Setup page asks for the setup code in {Path}", FilePath);
        else
            logger.LogWarning("The server waits for its default account: the Setup page asks for the setup code written to the log and to {File} " +
                              "in the data directory of the node that was activated. Run \"kit-server setup-code\" to make a new one", FileName);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

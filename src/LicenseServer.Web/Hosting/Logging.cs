using NLog;
using NLog.Config;
using NLog.Web;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// NLog, configured by the nlog.config beside the settings file when there is one, else by the built-in one
/// (a rolling file in the logs directory and the console). Either gets the logs directory and the console level
/// from the settings as the variables <c>logDirectory</c> and <c>consoleLevel</c>.
/// </summary>
internal static class Logging
{
    public const string FileName = "nlog.config";

    /// <param name="settingsFile">The settings file the server reads (--config or KIT_CONFIG), if any.</param>
    public static void UseKitLogging(this WebApplicationBuilder builder, LogOptions options, string? settingsFile)
    {
        var directory = KitOptions.Resolve(options.Directory);
        Directory.CreateDirectory(directory);
        var config = Load(settingsFile);
        config.Variables["logDirectory"] = directory;
        config.Variables["consoleLevel"] = options.ConsoleLevel;

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", Microsoft.Extensions.Logging.LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", Microsoft.Extensions.Logging.LogLevel.Error);
        builder.Host.UseNLog(new NLogAspNetCoreOptions { RemoveLoggerFactoryFilter = false });
        LogManager.Configuration = config;
    }

    private static LoggingConfiguration Load(string? settingsFile)
    {
        var custom = settingsFile is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(settingsFile))!, FileName);
        if (custom is null || !File.Exists(custom))
        {
            using var stream = typeof(Logging).Assembly.GetManifestResourceStream(FileName)!;
            using var reader = new StreamReader(stream);
            return XmlLoggingConfiguration.CreateFromXmlString(reader.ReadToEnd());
        }
        try
        {
            // A mistake in the file (a misspelt target, bad XML) stops the start with its reason, rather than leaving the server logging nowhere.
            LogManager.ThrowConfigExceptions = true;
            return new XmlLoggingConfiguration(custom);
        }
        catch (Exception e) when (e is NLogConfigurationException or System.Xml.XmlException)
        {
            throw new InvalidOperationException($"The log settings {custom} cannot be used: {e.GetBaseException().Message} " +
                                                "Correct the file, or remove it to log as the built-in settings do.", e);
        }
    }
}

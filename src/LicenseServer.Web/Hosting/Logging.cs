using NLog;
using NLog.Config;
using NLog.Targets;
using NLog.Web;

namespace LicenseServer.Web.Hosting;

/// <summary>I7: NLog to a rolling file in the logs directory and to the console.</summary>
internal static class Logging
{
    public static void UseKitLogging(this WebApplicationBuilder builder, LogOptions options)
    {
        var directory = KitOptions.Resolve(options.Directory);
        Directory.CreateDirectory(directory);
        var layout = "${longdate}|${level:uppercase=true}|${logger:shortName=true}|${message:withexception=true}";
        var file = new FileTarget("file")
        {
            FileName = Path.Combine(directory, "kit-server.log"),
            ArchiveAboveSize = 10 * 1024 * 1024,
            ArchiveEvery = FileArchivePeriod.Day,
            MaxArchiveFiles = 14,
            Layout = layout,
        };
        var console = new ConsoleTarget("console") { Layout = layout };
        var config = new LoggingConfiguration();
        config.AddRule(NLog.LogLevel.Info, NLog.LogLevel.Fatal, file);
        config.AddRule(NLog.LogLevel.FromString(options.ConsoleLevel), NLog.LogLevel.Fatal, console);

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", Microsoft.Extensions.Logging.LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", Microsoft.Extensions.Logging.LogLevel.Error);
        builder.Host.UseNLog(new NLogAspNetCoreOptions { RemoveLoggerFactoryFilter = false });
        LogManager.Configuration = config;
    }
}

using Npgsql;

namespace LicenseServer.Data.Database;

/// <summary>
/// Turns the configured database URL into an Npgsql connection string. Accepts the seeds' JDBC form
/// (<c>jdbc:postgresql://host:port/kit?user=...&amp;password=...</c>), a <c>postgresql://</c> URI, or an
/// Npgsql connection string (<c>Host=...;Database=kit;...</c>). A separately configured user name and
/// password win over the URL's.
/// </summary>
public static class DatabaseUrl
{
    public static string ToConnectionString(string url, string? username = null, string? password = null)
    {
        if (string.IsNullOrWhiteSpace(url)) throw new FormatException("The database URL is empty.");
        url = url.Trim();
        var builder = url.StartsWith("jdbc:", StringComparison.OrdinalIgnoreCase) ? FromUri(url[5..], url)
            : url.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ? FromUri(url, url)
            : FromConnectionString(url);
        if (!string.IsNullOrEmpty(username)) builder.Username = username;
        if (!string.IsNullOrEmpty(password)) builder.Password = password;
        if (string.IsNullOrEmpty(builder.Database)) builder.Database = "kit";
        return builder.ConnectionString;
    }

    /// <summary>The same URL with its password hidden, for logs and messages.</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static NpgsqlConnectionStringBuilder FromConnectionString(string text)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(text);
            if (string.IsNullOrEmpty(builder.Host))
                throw new FormatException("The database connection string names no Host.");
            return builder;
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"The database URL is neither jdbc:postgresql://host:port/kit nor a valid connection string: {e.Message}");
        }
    }

    private static NpgsqlConnectionStringBuilder FromUri(string text, string original)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgresql" or "postgres") || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"\"{Mask(original)}\" is not a database URL: write jdbc:postgresql://host:port/kit.");
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/')),
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]).ToLowerInvariant();
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key)
            {
                case "user": builder.Username = value; break;
                case "password": builder.Password = value; break;
                case "sslmode": builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", ""), ignoreCase: true); break;
                case "ssl": if (value == "true") builder.SslMode = SslMode.Require; break;
                case "currentschema": builder.SearchPath = value; break;
                case "applicationname": builder.ApplicationName = value; break;
                default: break; // other JDBC driver options have no Npgsql meaning
            }
        }
        return builder;
    }

    private static string Mask(string url)
    {
        var at = url.IndexOf('@');
        var scheme = url.IndexOf("//", StringComparison.Ordinal);
        return at > 0 && scheme >= 0 && at > scheme ? url[..(scheme + 2)] + "***" + url[at..] : url;
    }
}

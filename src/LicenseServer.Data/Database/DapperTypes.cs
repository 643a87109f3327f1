using System.Data;
using Dapper;

namespace LicenseServer.Data.Database;

/// <summary>
/// How Dapper maps rows, registered once for the process (<see cref="Register"/>): columns match properties by name
/// with underscores (<c>expires_at</c> to <c>ExpiresAt</c>), and a <c>timestamptz</c> is read into a
/// <see cref="DateTimeOffset"/> in UTC, so that no row marks its times as UTC by hand. Parameters are given as
/// UTC <see cref="DateTime"/>s (<c>.UtcDateTime</c>): Dapper hands <see cref="DateTimeOffset"/> parameters to Npgsql
/// itself, which takes only offset zero. A product's kind and subscription stay text in rows: Dapper does not call
/// type handlers for enumerations.
/// </summary>
public static class DapperTypes
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new UtcTimestamp());
    }

    /// <summary>Npgsql reads a <c>timestamptz</c> as a UTC <see cref="DateTime"/>.</summary>
    private sealed class UtcTimestamp : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTime at => new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)),
            DateTimeOffset at => at.ToUniversalTime(),
            _ => throw new DataException($"A {value.GetType().Name} is not a timestamp."),
        };

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value.UtcDateTime;
    }
}

using Dapper;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>Timestamps read through Dapper as points in time in UTC, against PostgreSQL, whatever the session's time zone.</summary>
public class DapperTypeTests
{
    private sealed record ByConstructor(string Code, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

    private sealed class ByProperties
    {
        public DateTimeOffset? ExpiresAt { get; init; }
    }

    private static readonly DateTimeOffset End = new(2027, 1, 31, 10, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task A_timestamp_is_read_as_a_point_in_time_in_utc()
    {
        DapperTypes.Register();
        await using var db = new NpgsqlConnection(PostgresFixture.CreateDatabase());
        await db.OpenAsync();
        await db.ExecuteAsync("SET TIME ZONE 'America/New_York'");

        var byConstructor = await db.QuerySingleAsync<ByConstructor>(
            "SELECT 'KSE' AS code, timestamptz '2027-01-31 12:00+02' AS expires_at, timestamptz '2026-12-05 10:00Z' AS created_at");
        Assert.That(byConstructor, Is.EqualTo(new ByConstructor("KSE", End, new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero))));
        Assert.That(byConstructor.ExpiresAt!.Value.Offset, Is.EqualTo(TimeSpan.Zero));

        Assert.That((await db.QuerySingleAsync<ByProperties>("SELECT timestamptz '2027-01-31 10:00Z' AS expires_at")).ExpiresAt, Is.EqualTo(End));
        Assert.That((await db.QuerySingleAsync<ByProperties>("SELECT NULL::timestamptz AS expires_at")).ExpiresAt, Is.Null);
        Assert.That(await db.ExecuteScalarAsync<DateTimeOffset>("SELECT timestamptz '2027-01-31 10:00Z'"), Is.EqualTo(End));
        Assert.That((await db.QueryAsync<DateTimeOffset>("SELECT timestamptz '2027-01-31 10:00Z'")).Single(), Is.EqualTo(End));
        Assert.That(await db.QuerySingleAsync<(string, DateTimeOffset?)>("SELECT 'x', timestamptz '2027-01-31 10:00Z'"), Is.EqualTo(("x", (DateTimeOffset?)End)));
    }
}

using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

public class DatabaseUrlTests
{
    private static NpgsqlConnectionStringBuilder Parse(string url, string? user = null, string? password = null) =>
        new(DatabaseUrl.ToConnectionString(url, user, password));

    [Test]
    public void The_seeds_JDBC_form_is_accepted()
    {
        var b = Parse("jdbc:postgresql://db.local:5433/kit");
        Assert.That((b.Host, b.Port, b.Database), Is.EqualTo(("db.local", 5433, "kit")));
    }

    [Test]
    public void JDBC_user_and_password_parameters_are_read_and_configured_ones_win()
    {
        var b = Parse("jdbc:postgresql://localhost/kit?user=kit&password=s%3Bcret&sslmode=require");
        Assert.That((b.Username, b.Password, b.Port, b.SslMode), Is.EqualTo(("kit", "s;cret", 5432, SslMode.Require)));
        Assert.That(Parse("jdbc:postgresql://localhost/kit?user=a", "b", "pw").Username, Is.EqualTo("b"));
    }

    [Test]
    public void An_Npgsql_connection_string_is_accepted_and_the_database_defaults_to_kit()
    {
        var b = Parse("Host=127.0.0.1;Port=6000;Username=u;Password=p");
        Assert.That((b.Host, b.Port, b.Database), Is.EqualTo(("127.0.0.1", 6000, "kit")));
    }

    [TestCase("jdbc:mysql://localhost/kit")]
    [TestCase("jdbc:postgresql:/kit")]
    [TestCase("Database=kit")]
    [TestCase("not a url")]
    public void A_bad_URL_is_refused_with_a_sentence(string url) =>
        Assert.Throws<FormatException>(() => DatabaseUrl.ToConnectionString(url));

    [Test]
    public void A_password_never_shows_in_the_description() =>
        Assert.That(DatabaseUrl.Describe(DatabaseUrl.ToConnectionString("jdbc:postgresql://h:1/kit?user=u&password=topsecret")),
            Does.Not.Contain("topsecret"));
}

using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// PostgreSQL older than 13 is refused with a sentence naming the version found and the one needed, before
/// anything is migrated: by the start, by <c>kit-server check-database</c> (the installers' check) and for the
/// embedded database's programs. The old versions are simulated by what the check reads.
/// </summary>
public class PostgresVersionTests
{
    [TestCase("9.6.24", 9)]
    [TestCase("12.18 (Ubuntu 12.18-1.pgdg22.04+1)", 12)]
    [TestCase("13.0", 13)]
    [TestCase("15.8 (Debian 15.8-0+deb12u1)", 15)]
    [TestCase("pg_ctl (PostgreSQL) 16.4", 16)]
    [TestCase("17beta1", 17)]
    public void The_major_version_is_read_from_what_PostgreSQL_says(string text, int major) =>
        Assert.That(PostgresVersion.MajorOf(text), Is.EqualTo(major));

    [TestCase("9.6.24")]
    [TestCase("12.18 (Ubuntu 12.18-1.pgdg22.04+1)")]
    public void A_server_older_than_13_is_refused_with_the_version_found_and_needed(string version)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => PostgresVersion.Require(version, "the database at db.acme.test:5432/kit"));
        Assert.That(refused!.Message, Does.StartWith($"Found PostgreSQL {version.Split(' ')[0]} (the database at db.acme.test:5432/kit), and Kit License Server needs PostgreSQL 13 or later."));
    }

    [TestCase("13.0")]
    [TestCase("15.8 (Debian 15.8-0+deb12u1)")]
    public void Version_13_and_later_are_accepted(string version) =>
        Assert.DoesNotThrow(() => PostgresVersion.Require(version, "the database"));

    [Test]
    public void Check_database_says_the_version_of_a_supported_server()
    {
        var check = ServerProcess.Command("check-database", "--url", PostgresFixture.CreateDatabase());
        Assert.That(check.ExitCode, Is.Zero, check.Output);
        Assert.That(check.Output, Does.Match(@"Connected to .* \(PostgreSQL 1[3-9]"));
    }

    [Test, System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Embedded_programs_older_than_13_stop_the_check_and_the_start_before_a_cluster_is_made()
    {
        // PostgreSQL 12's programs, as far as anything asks them.
        var data = Path.Combine(Path.GetTempPath(), "kit-pg12-" + Guid.NewGuid().ToString("N")[..8]);
        var bin = Path.Combine(data, "..", Path.GetFileName(data) + "-bin");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(bin);
        try
        {
            foreach (var program in new[] { "pg_ctl", "initdb" })
            {
                var path = Path.Combine(bin, program);
                File.WriteAllText(path, $"#!/bin/sh\necho \"{program} (PostgreSQL) 12.22\"\n");
                File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
            }
            var settings = TestServer.Arguments("", data, $"--Kit:Database:PostgresBinDirectory={bin}", $"--Kit:Database:EmbeddedPort={FreePort.Next()}");

            var check = ServerProcess.Command("check-database", settings);
            Assert.That(check.ExitCode, Is.EqualTo(1), check.Output);
            Assert.That(check.Output, Does.Contain($"Found PostgreSQL 12.22 (the embedded PostgreSQL's programs in {bin}), and Kit License Server needs PostgreSQL 13 or later."));

            var migrate = ServerProcess.Command("migrate", settings);
            Assert.That(migrate.ExitCode, Is.Not.Zero, migrate.Output);
            Assert.That(migrate.Output, Does.Contain("needs PostgreSQL 13 or later"));
            Assert.That(Directory.Exists(Path.Combine(data, "pgsql")), Is.False, "no cluster was made with the old programs");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
            Directory.Delete(bin, recursive: true);
        }
    }
}

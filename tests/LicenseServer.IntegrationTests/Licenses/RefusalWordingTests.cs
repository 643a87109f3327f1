using System.Text.RegularExpressions;
using LicenseServer.Core.Licenses;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// The floating checkout decides its refusal in the database and the server words it from the numbers the function
/// answers, through the one table every seat path uses: each code the function can answer must be in the table.
/// </summary>
public class RefusalWordingTests
{
    [Test]
    public void Every_refusal_the_checkout_function_answers_is_worded_by_the_one_table()
    {
        var function = File.ReadAllText(RepoPaths.File("db-migrations/functions/kit_checkout_decide.sql"));
        var license = File.ReadAllText(RepoPaths.File("db-migrations/functions/kit_license_refusal.sql"));
        Assert.That(function, Does.Contain("outcome := kit_license_refusal("), "the checkout asks the license's rule");
        var codes = Regex.Matches(function, @"outcome := '([a-z_]+)'").Concat(Regex.Matches(license, @"THEN '([a-z_]+)'")).Select(m => m.Groups[1].Value)
            .Except(["granted", "reused", "api_key"]).Distinct().ToList();
        Assert.That(codes, Has.Count.GreaterThanOrEqualTo(10), "the function's refusals are found");

        var facts = new RefusalFacts("KRE")
        {
            LicenseValidUntil = DateTime.UtcNow, ProductEndedAt = DateTimeOffset.UtcNow, Licensed = 5, Shared = 6, Quota = 3, Available = 0,
            MachineId = "M-1", Registered = 3, Reservations = [new TeamReservation(1, "QA", 1, 0, [])],
        };
        foreach (var code in codes)
        {
            var refusal = Refusals.Word(code, facts);
            Assert.That(refusal.Code, Is.EqualTo(code == "product_expired" ? "license_expired" : code), code);
            Assert.That(refusal.Message, Does.EndWith("."), $"{code} is a sentence");
        }
    }
}

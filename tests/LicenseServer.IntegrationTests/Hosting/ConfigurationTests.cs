using System.Text.Json;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Hosting;
using Microsoft.Extensions.Configuration;

namespace LicenseServer.IntegrationTests.Hosting;

public class ConfigurationTests
{
    private static KitOptions Bind(string file) =>
        new ConfigurationBuilder().AddJsonFile(file).Build().GetSection("Kit").Get<KitOptions>()!;

    [TestCase("appsettings.sample.json")]
    [TestCase("src/LicenseServer.Web/appsettings.json")]
    public void The_settings_files_hold_every_setting_with_its_default(string file)
    {
        var bound = Bind(RepoPaths.File(file));
        Assert.That(JsonSerializer.Serialize(bound), Is.EqualTo(JsonSerializer.Serialize(new KitOptions())));
    }

    [Test]
    public void Every_setting_of_the_sample_is_one_the_server_reads()
    {
        var sample = new ConfigurationBuilder().AddJsonFile(RepoPaths.File("appsettings.sample.json")).Build();
        // Every leaf: a value, or null for a setting that is unset by default (the vendor's limits).
        var keys = sample.AsEnumerable().Where(kv => !sample.GetSection(kv.Key).GetChildren().Any()).Select(kv => kv.Key).ToList();
        var known = Flatten("Kit", JsonSerializer.SerializeToElement(new KitOptions())).Append("Urls").ToList();
        Assert.That(keys, Is.EquivalentTo(known));

        static IEnumerable<string> Flatten(string prefix, JsonElement element) => element.ValueKind == JsonValueKind.Object
            ? element.EnumerateObject().SelectMany(p => Flatten($"{prefix}:{p.Name}", p.Value))
            : [prefix];
    }
}

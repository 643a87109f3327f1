using System.Text.Json;
using LicenseServer.Core.Activation;

namespace LicenseServer.Core.Tests.Activation;

/// <summary>A product's kind and subscription have one word each, the same in the license file, the database and the vendor's command line.</summary>
public class ProductWordsTests
{
    [Test]
    public void Every_kind_and_subscription_has_the_word_of_the_license_file_and_back()
    {
        foreach (var kind in Enum.GetValues<ProductKind>())
        {
            Assert.That(kind.Word(), Is.EqualTo(JsonSerializer.Serialize(kind).Trim('"')), "the word the license file writes");
            Assert.That(ProductWords.Kind(kind.Word()), Is.EqualTo(kind));
        }
        foreach (var subscription in Enum.GetValues<SubscriptionKind>())
        {
            Assert.That(subscription.Word(), Is.EqualTo(JsonSerializer.Serialize(subscription).Trim('"')));
            Assert.That(ProductWords.Subscription(subscription.Word()), Is.EqualTo(subscription));
        }
    }

    [TestCase("PerUser")]
    [TestCase("per_user")]
    [TestCase("site")]
    [TestCase("")]
    public void A_word_that_names_no_kind_is_refused_not_guessed(string word)
    {
        Assert.That(ProductWords.KindOf(word), Is.Null);
        Assert.That(ProductWords.SubscriptionOf(word), Is.Null);
        Assert.Throws<FormatException>(() => ProductWords.Kind(word));
    }
}

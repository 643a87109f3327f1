using System.Net;
using LicenseServer.Core.Outbound;

namespace LicenseServer.Core.Tests.Outbound;

public class OutboundAddressTests
{
    [TestCase("169.254.169.254", ForbiddenAddress.LinkLocal)]
    [TestCase("169.254.0.0", ForbiddenAddress.LinkLocal)]
    [TestCase("169.254.255.255", ForbiddenAddress.LinkLocal)]
    [TestCase("fe80::1", ForbiddenAddress.LinkLocal)]
    [TestCase("fe80::a9fe:a9fe%2", ForbiddenAddress.LinkLocal)]
    [TestCase("febf:ffff::1", ForbiddenAddress.LinkLocal)]
    [TestCase("::ffff:169.254.169.254", ForbiddenAddress.LinkLocal)]
    [TestCase("224.0.0.1", ForbiddenAddress.Multicast)]
    [TestCase("239.255.255.250", ForbiddenAddress.Multicast)]
    [TestCase("ff02::1", ForbiddenAddress.Multicast)]
    [TestCase("ff05::1:3", ForbiddenAddress.Multicast)]
    [TestCase("::ffff:224.0.0.251", ForbiddenAddress.Multicast)]
    [TestCase("255.255.255.255", ForbiddenAddress.Broadcast)]
    [TestCase("::ffff:255.255.255.255", ForbiddenAddress.Broadcast)]
    [TestCase("0.0.0.0", ForbiddenAddress.Unspecified)]
    [TestCase("::", ForbiddenAddress.Unspecified)]
    [TestCase("::ffff:0.0.0.0", ForbiddenAddress.Unspecified)]
    [TestCase("fd00:ec2::254", ForbiddenAddress.CloudMetadata)]
    [TestCase("100.100.100.200", ForbiddenAddress.CloudMetadata)]
    [TestCase("::ffff:100.100.100.200", ForbiddenAddress.CloudMetadata)]
    public void Link_local_multicast_broadcast_and_unspecified_addresses_are_forbidden(string address, ForbiddenAddress kind) =>
        Assert.That(OutboundAddress.Forbidden(IPAddress.Parse(address)), Is.EqualTo(kind));

    [TestCase("127.0.0.1")]
    [TestCase("::1")]
    [TestCase("10.1.2.3")]
    [TestCase("172.16.0.25")]
    [TestCase("192.168.1.10")]
    [TestCase("fd00::25")]
    [TestCase("169.253.255.255")]
    [TestCase("169.255.0.1")]
    [TestCase("223.255.255.255")]
    [TestCase("240.0.0.1")]
    [TestCase("255.255.255.254")]
    [TestCase("0.0.0.1")]
    [TestCase("fec0::1")]
    [TestCase("fe7f::1")]
    [TestCase("::ffff:10.0.0.5")]
    [TestCase("2001:db8::25")]
    [TestCase("93.184.216.34")]
    public void Loopback_private_and_public_addresses_are_allowed(string address) =>
        Assert.That(OutboundAddress.Forbidden(IPAddress.Parse(address)), Is.Null);

    [TestCase("169.254.169.254", "169.254.169.254 is a link-local address, which the server never connects to.")]
    [TestCase("[fe80::1]", "[fe80::1] is a link-local address, which the server never connects to.")]
    [TestCase("ff02::1", "ff02::1 is a multicast address, which the server never connects to.")]
    [TestCase("0.0.0.0", "0.0.0.0 is an unspecified address, which the server never connects to.")]
    [TestCase("2852039166", "2852039166 is a link-local address, which the server never connects to.")]
    public void A_host_written_as_a_forbidden_address_is_refused_with_a_sentence(string host, string sentence) =>
        Assert.That(OutboundAddress.RefuseLiteral(host)?.Sentence, Is.EqualTo(sentence));

    [TestCase("smtp.example.com")]
    [TestCase("127.0.0.1")]
    [TestCase("[::1]")]
    [TestCase("10.0.0.25")]
    [TestCase("metadata.google.internal")]
    public void A_name_or_an_allowed_address_is_not_refused_when_saved(string host) =>
        Assert.That(OutboundAddress.RefuseLiteral(host), Is.Null);

    [Test]
    public void A_name_that_resolves_only_to_forbidden_addresses_is_refused_naming_what_it_found()
    {
        var (allowed, refusal) = OutboundAddress.Choose("metadata.example", [IPAddress.Parse("169.254.169.254"), IPAddress.Parse("fe80::1")]);
        Assert.That(allowed, Is.Empty);
        Assert.That(refusal!.Sentence, Is.EqualTo("metadata.example resolves only to link-local addresses, which the server never connects to."));

        (_, refusal) = OutboundAddress.Choose("odd.example", [IPAddress.Parse("ff02::1"), IPAddress.Parse("169.254.1.1"), IPAddress.Parse("224.0.0.1")]);
        Assert.That(refusal!.Short, Is.EqualTo("odd.example resolves only to link-local or multicast addresses"));

        (_, refusal) = OutboundAddress.Choose("all.example", [IPAddress.Parse("0.0.0.0"), IPAddress.Parse("255.255.255.255"), IPAddress.Parse("ff02::1"), IPAddress.Parse("169.254.1.1")]);
        Assert.That(refusal!.Short, Is.EqualTo("all.example resolves only to link-local, multicast, broadcast or unspecified addresses"));
    }

    [Test]
    public void Of_a_name_s_addresses_the_allowed_ones_are_kept_in_order()
    {
        var (allowed, refusal) = OutboundAddress.Choose("mail.example",
            [IPAddress.Parse("169.254.169.254"), IPAddress.Parse("10.0.0.25"), IPAddress.Parse("fe80::1"), IPAddress.Parse("fd00::25")]);
        Assert.That(refusal, Is.Null);
        Assert.That(allowed, Is.EqualTo(new[] { IPAddress.Parse("10.0.0.25"), IPAddress.Parse("fd00::25") }));
    }

    [Test]
    public void A_name_that_resolves_to_nothing_is_no_refusal_but_has_nothing_to_connect_to()
    {
        var (allowed, refusal) = OutboundAddress.Choose("empty.example", []);
        Assert.That(allowed, Is.Empty);
        Assert.That(refusal, Is.Null, "the connector reports the name as not found");
    }
}

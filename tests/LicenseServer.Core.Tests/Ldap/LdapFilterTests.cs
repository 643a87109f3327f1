using System.Formats.Asn1;
using LicenseServer.Core.Ldap;

namespace LicenseServer.Core.Tests.Ldap;

/// <summary>RFC 4515 filters: a person's input escaped into one can only be a value, and the BER sent is RFC 4511's.</summary>
public class LdapFilterTests
{
    [TestCase("*", @"\2a")]
    [TestCase(")(", @"\29\28")]
    [TestCase(@"\", @"\5c")]
    [TestCase("\0", @"\00")]
    [TestCase("*)(uid=*", @"\2a\29\28uid=\2a")]
    [TestCase("Zoë\n", @"Zo\c3\ab\0a")]
    [TestCase("plain.user@corp.example", "plain.user@corp.example")]
    public void Escape_turns_filter_syntax_and_non_ascii_into_hex_escapes(string value, string escaped) =>
        Assert.That(LdapFilter.Escape(value), Is.EqualTo(escaped));

    [Test]
    public void An_escaped_value_always_makes_a_valid_filter_that_matches_the_value_itself()
    {
        foreach (var value in new[] { "*", ")(", @"\", "\0", "*)(uid=*", "Zoë", "a(b)c*d", "" })
        {
            var filter = $"(&(objectClass=person)(mail={LdapFilter.Escape(value)}))";
            Assert.That(LdapFilter.Validate(filter), Is.Null, filter);
        }
        // The injected value stays one equality match with the exact bytes typed, not a present or substring match.
        Assert.That(Encode($"(mail={LdapFilter.Escape("*)(uid=*")})"), Is.EqualTo(Encode(@"(mail=\2a\29\28uid=\2a)")));
        Assert.That(Encode($"(mail={LdapFilter.Escape("*")})")[0], Is.EqualTo(0xA3), "an equality match, not present");
    }

    [TestCase("(&(objectClass=person)(mail=ann@corp.example))")]
    [TestCase("(&(objectCategory=person)(sAMAccountName=x)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))")]
    [TestCase("(|(uid=ann)(mail=ann*)(cn=*nn*)(sn=*n))")]
    [TestCase("(member:dn:=cn=admins,ou=groups,dc=corp,dc=example)")]
    [TestCase("(:caseExactMatch:=Ann)")]
    [TestCase("(&(createTimestamp>=20240101000000Z)(uidNumber<=5000)(cn~=an))")]
    [TestCase("(objectClass=*)")]
    [TestCase("(cn=Zoë \\28test\\29)")]
    [TestCase(" (& (uid=a) (uid=b) ) ")]
    public void Validate_accepts_well_formed_filters(string filter) => Assert.That(LdapFilter.Validate(filter), Is.Null);

    [TestCase("", "empty")]
    [TestCase("   ", "empty")]
    [TestCase("(&(uid=a)(uid=b)", "unbalanced")]
    [TestCase("(uid=a", "unbalanced")]
    [TestCase("(uid=a))", "after its last")]
    [TestCase("(uid=a)(uid=b)", "after its last")]
    [TestCase("(uid=a) trailing", "after its last")]
    [TestCase("uid=a", "needs a (")]
    [TestCase("(&)", "empty (&)")]
    [TestCase("(=a)", "without an attribute")]
    [TestCase("(uid)", "needs =")]
    [TestCase(@"(uid=a\2)", "two hexadecimal digits")]
    [TestCase(@"(uid=a\zz)", "two hexadecimal digits")]
    [TestCase("(uid=a(b)", "inside a value")]
    [TestCase("(uid>=a*)", "only = allows")]
    [TestCase("(uid=a**b)", "two * in a row")]
    [TestCase("(:=a)", "neither an attribute nor a matching rule")]
    public void Validate_explains_what_is_wrong(string filter, string words) =>
        Assert.That(LdapFilter.Validate(filter), Does.Contain(words));

    [TestCase("(cn=a)", "A307 0402636E 040161")]
    [TestCase("(cn=*)", "8702636E")]
    [TestCase("(cn=a*b*c)", "A40F 0402636E 3009 800161 810162 820163")]
    [TestCase("(!(cn=a))", "A209 A307 0402636E 040161")]
    [TestCase("(&(cn=a)(sn=*))", "A00D A307 0402636E 040161 8702736E")]
    [TestCase(@"(cn=\2a)", "A307 0402636E 04012A")]
    [TestCase("(cn:1.2:=x)", "A90C 8103312E32 8202636E 830178")]
    [TestCase("(cn:dn:=x)", "A90A 8202636E 830178 8401FF")]
    public void Filters_are_encoded_as_RFC_4511_says(string filter, string hex) =>
        Assert.That(Hex(filter), Is.EqualTo(hex.Replace(" ", "")));

    private static byte[] Encode(string filter)
    {
        var writer = new AsnWriter(AsnEncodingRules.BER);
        LdapFilter.Write(writer, filter);
        return writer.Encode();
    }

    private static string Hex(string filter) => Convert.ToHexString(Encode(filter));
}

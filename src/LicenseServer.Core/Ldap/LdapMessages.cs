using System.Formats.Asn1;
using System.Text;

namespace LicenseServer.Core.Ldap;

/// <summary>A search result. Attribute names are case-insensitive, as LDAP's are.</summary>
public sealed record LdapEntry(string Dn, IReadOnlyDictionary<string, IReadOnlyList<string>> Attributes)
{
    public string? First(string attribute) => All(attribute) is [var first, ..] ? first : null;
    public IReadOnlyList<string> All(string attribute) => Attributes.TryGetValue(attribute, out var values) ? values : [];
}

/// <summary>A message from the server: its ID, its operation (APPLICATION tag number), and the result or entry it carries.</summary>
internal sealed record LdapResponse(int MessageId, int Operation, int ResultCode, string Diagnostic, LdapEntry? Entry);

/// <summary>The LDAPMessage envelopes of RFC 4511 that the client sends and reads, in BER.</summary>
internal static class LdapMessages
{
    // Protocol operations: their APPLICATION tag numbers.
    public const int BindRequest = 0, BindResponse = 1, UnbindRequest = 2, SearchRequest = 3, SearchResultEntry = 4,
        SearchResultDone = 5, ExtendedRequest = 23, ExtendedResponse = 24;

    public const string StartTlsOid = "1.3.6.1.4.1.1466.20037";

    // No answer the client asks for comes near this: a bigger one is a broken or hostile peer.
    private const int MaxMessageBytes = 16 * 1024 * 1024;

    private enum Scope { BaseObject = 0, WholeSubtree = 2 }
    private enum DerefAliases { Never = 0 }

    public static byte[] Bind(int id, string dn, string password) => Message(id, writer =>
    {
        using var bind = writer.PushSequence(Application(BindRequest, true));
        writer.WriteInteger(3);
        writer.WriteOctetString(Encoding.UTF8.GetBytes(dn));
        writer.WriteOctetString(Encoding.UTF8.GetBytes(password), new Asn1Tag(TagClass.ContextSpecific, 0)); // simple
    });

    public static byte[] Unbind(int id) => Message(id, writer => writer.WriteNull(Application(UnbindRequest, false)));

    public static byte[] StartTls(int id) => Message(id, writer =>
    {
        using var extended = writer.PushSequence(Application(ExtendedRequest, true));
        writer.WriteOctetString(Encoding.UTF8.GetBytes(StartTlsOid), new Asn1Tag(TagClass.ContextSpecific, 0));
    });

    /// <summary>A subtree search (or of the base entry alone); a malformed filter throws <see cref="LdapException"/> before anything is sent.</summary>
    public static byte[] Search(int id, string baseDn, bool baseOnly, string filter, IReadOnlyList<string> attributes, int sizeLimit, int timeLimitSeconds) =>
        Message(id, writer =>
        {
            using var search = writer.PushSequence(Application(SearchRequest, true));
            writer.WriteOctetString(Encoding.UTF8.GetBytes(baseDn));
            writer.WriteEnumeratedValue(baseOnly ? Scope.BaseObject : Scope.WholeSubtree);
            writer.WriteEnumeratedValue(DerefAliases.Never);
            writer.WriteInteger(sizeLimit);
            writer.WriteInteger(timeLimitSeconds);
            writer.WriteBoolean(false); // typesOnly
            LdapFilter.Write(writer, filter);
            using var list = writer.PushSequence();
            foreach (var attribute in attributes) writer.WriteOctetString(Encoding.UTF8.GetBytes(attribute));
        });

    /// <summary>Reads one whole LDAPMessage (a definite-length BER SEQUENCE) from the stream.</summary>
    public static async Task<LdapResponse> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[6];
        await stream.ReadExactlyAsync(header.AsMemory(0, 2), cancellationToken);
        if (header[0] != 0x30) throw Unreadable();
        int headerLength = 2, length = header[1];
        if (length >= 0x80)
        {
            var count = length & 0x7F;
            // Indefinite lengths are not allowed in LDAP; Active Directory writes even short lengths in 4 bytes.
            if (count is 0 or > 4) throw Unreadable();
            await stream.ReadExactlyAsync(header.AsMemory(2, count), cancellationToken);
            var longLength = 0L;
            for (var i = 0; i < count; i++) longLength = (longLength << 8) | header[2 + i];
            if (longLength > MaxMessageBytes) throw Unreadable();
            length = (int)longLength;
            headerLength += count;
        }
        var message = new byte[headerLength + length];
        header.AsSpan(0, headerLength).CopyTo(message);
        await stream.ReadExactlyAsync(message.AsMemory(headerLength), cancellationToken);
        return Parse(message);
    }

    private static LdapResponse Parse(byte[] message)
    {
        try
        {
            var envelope = new AsnReader(message, AsnEncodingRules.BER).ReadSequence();
            if (!envelope.TryReadInt32(out var id)) throw Unreadable();
            var tag = envelope.PeekTag();
            if (tag.TagClass != TagClass.Application || !tag.IsConstructed) throw Unreadable();
            var operation = envelope.ReadSequence(tag);
            return tag.TagValue switch
            {
                SearchResultEntry => new LdapResponse(id, tag.TagValue, 0, "", Entry(operation)),
                // These begin with an LDAPResult: resultCode, matchedDN, diagnosticMessage.
                BindResponse or SearchResultDone or ExtendedResponse => Result(id, tag.TagValue, operation),
                // Search references and anything else the client did not ask for.
                _ => new LdapResponse(id, tag.TagValue, -1, "", null),
            };
        }
        catch (AsnContentException)
        {
            throw Unreadable();
        }
    }

    private static LdapResponse Result(int id, int operation, AsnReader reader)
    {
        var code = 0;
        foreach (var b in reader.ReadEnumeratedBytes().Span) code = (code << 8) | b;
        reader.ReadOctetString(); // matchedDN
        return new LdapResponse(id, operation, code, Text(reader.ReadOctetString()), null);
    }

    private static LdapEntry Entry(AsnReader reader)
    {
        var dn = Text(reader.ReadOctetString());
        var attributes = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        var list = reader.ReadSequence();
        while (list.HasData)
        {
            var attribute = list.ReadSequence();
            var name = Text(attribute.ReadOctetString());
            var values = attribute.ReadSetOf();
            var read = new List<string>();
            while (values.HasData) read.Add(Text(values.ReadOctetString()));
            attributes[name] = attributes.TryGetValue(name, out var earlier) ? [.. earlier, .. read] : read;
        }
        return new LdapEntry(dn, attributes);
    }

    private static byte[] Message(int id, Action<AsnWriter> writeOperation)
    {
        var writer = new AsnWriter(AsnEncodingRules.BER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(id);
            writeOperation(writer);
        }
        return writer.Encode();
    }

    private static Asn1Tag Application(int number, bool constructed) => new(TagClass.Application, number, constructed);
    private static string Text(byte[] utf8) => Encoding.UTF8.GetString(utf8);
    private static LdapException Unreadable() => new("The directory server sent a message that is not valid LDAP.");
}

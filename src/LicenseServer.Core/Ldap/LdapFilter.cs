using System.Formats.Asn1;
using System.Runtime.CompilerServices;
using System.Text;

// The filter tests compare the BER that Write makes with RFC 4511's bytes.
[assembly: InternalsVisibleTo("LicenseServer.Core.Tests")]

namespace LicenseServer.Core.Ldap;

/// <summary>
/// RFC 4515 search filters: escaping values put into one, checking one typed on the settings page, and
/// encoding one as the Filter CHOICE of RFC 4511 (section 4.5.1).
/// </summary>
public static class LdapFilter
{
    /// <summary>
    /// RFC 4515 escaping of a value put into a filter: \ * ( ) NUL and every non-ASCII or control byte become
    /// \hh of their UTF-8 bytes, so that a user's input can only ever be a value, never filter syntax.
    /// </summary>
    public static string Escape(string value)
    {
        var escaped = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is < 0x20 or >= 0x7F or (byte)'\\' or (byte)'*' or (byte)'(' or (byte)')')
                escaped.Append('\\').Append(b.ToString("x2"));
            else
                escaped.Append((char)b);
        }
        return escaped.ToString();
    }

    /// <summary>Null when the filter parses, else a sentence saying what is wrong (for the settings page).</summary>
    public static string? Validate(string filter)
    {
        try
        {
            Write(new AsnWriter(AsnEncodingRules.BER), filter);
            return null;
        }
        catch (LdapException e)
        {
            return e.Message;
        }
    }

    /// <summary>Encodes <paramref name="filter"/> as the Filter CHOICE; a malformed filter throws <see cref="LdapException"/>.</summary>
    internal static void Write(AsnWriter writer, string filter) => new Parser(filter, writer).Whole();

    private static Asn1Tag Context(int number, bool constructed) => new(TagClass.ContextSpecific, number, constructed);

    /// <summary>A recursive-descent parser that writes each part as soon as it is read.</summary>
    private sealed class Parser(string text, AsnWriter writer)
    {
        // The Filter CHOICE alternatives of RFC 4511.
        private const int And = 0, Or = 1, Not = 2, Equality = 3, Substrings = 4, GreaterOrEqual = 5, LessOrEqual = 6,
            Present = 7, Approx = 8, Extensible = 9;

        private int _at;

        public void Whole()
        {
            SkipSpaces();
            if (_at == text.Length) throw Error("The filter is empty: write one such as (objectClass=person).");
            Filter();
            SkipSpaces();
            if (_at < text.Length) throw Error($"The filter has text after its last closing parenthesis: \"{text[_at..]}\".");
        }

        private void Filter()
        {
            SkipSpaces();
            if (Peek() != '(') throw Error($"The filter needs a ( at character {_at + 1}, as in (objectClass=person).");
            _at++;
            switch (Peek())
            {
                case '&': _at++; List(And); break;
                case '|': _at++; List(Or); break;
                case '!':
                    _at++;
                    using (writer.PushSequence(Context(Not, true))) Filter();
                    SkipSpaces();
                    break;
                default: Item(); break;
            }
            Expect(')');
        }

        private void List(int choice)
        {
            using var scope = writer.PushSetOf(Context(choice, true));
            SkipSpaces();
            if (Peek() != '(') throw Error($"The filter has an empty {(choice == And ? "(&)" : "(|)")} at character {_at}: put the conditions inside it.");
            while (Peek() == '(')
            {
                Filter();
                SkipSpaces();
            }
        }

        private void Item()
        {
            var start = _at;
            var attribute = Name();
            if (Peek() == ':')
            {
                ExtensibleMatch(attribute);
                return;
            }
            if (attribute.Length == 0) throw Error($"The filter has a condition without an attribute name at character {start + 1}.");
            var choice = Peek() switch
            {
                '=' => Equality,
                '~' when Next() == '=' => Approx,
                '>' when Next() == '=' => GreaterOrEqual,
                '<' when Next() == '=' => LessOrEqual,
                _ => throw Error($"The filter needs =, ~=, >= or <= after \"{attribute}\" at character {_at + 1}."),
            };
            _at += choice == Equality ? 1 : 2;
            var parts = ValueParts();
            if (choice == Equality && parts.Count == 2 && parts[0].Length == 0 && parts[1].Length == 0)
                writer.WriteOctetString(Encoding.UTF8.GetBytes(attribute), Context(Present, false));
            else if (choice == Equality && parts.Count > 1)
                SubstringMatch(attribute, parts);
            else if (parts.Count > 1)
                throw Error($"The filter has a * in the value of \"{attribute}\", which only = allows: write \\2a for a literal *.");
            else
                using (writer.PushSequence(Context(choice, true)))
                {
                    writer.WriteOctetString(Encoding.UTF8.GetBytes(attribute));
                    writer.WriteOctetString(parts[0]);
                }
        }

        private void SubstringMatch(string attribute, List<byte[]> parts)
        {
            using var match = writer.PushSequence(Context(Substrings, true));
            writer.WriteOctetString(Encoding.UTF8.GetBytes(attribute));
            using var substrings = writer.PushSequence();
            if (parts[0].Length > 0) writer.WriteOctetString(parts[0], Context(0, false));
            for (var i = 1; i < parts.Count - 1; i++)
            {
                if (parts[i].Length == 0) throw Error($"The filter has two * in a row in the value of \"{attribute}\".");
                writer.WriteOctetString(parts[i], Context(1, false));
            }
            if (parts[^1].Length > 0) writer.WriteOctetString(parts[^1], Context(2, false));
        }

        /// <summary>attr[:dn][:rule]:=value or [:dn]:rule:=value, as in (userAccountControl:1.2.840.113556.1.4.803:=2).</summary>
        private void ExtensibleMatch(string attribute)
        {
            var dnAttributes = false;
            string? rule = null;
            while (!(Peek() == ':' && Next() == '='))
            {
                Expect(':');
                var name = Name();
                if (name.Length == 0) throw Error($"The filter needs a matching rule or := at character {_at + 1}.");
                if (!dnAttributes && rule is null && name.Equals("dn", StringComparison.OrdinalIgnoreCase)) dnAttributes = true;
                else if (rule is null) rule = name;
                else throw Error($"The filter names two matching rules before := at character {_at + 1}.");
            }
            _at += 2;
            if (attribute.Length == 0 && rule is null) throw Error("The filter has a := condition with neither an attribute nor a matching rule.");
            var parts = ValueParts();
            if (parts.Count > 1) throw Error("The filter has a * in a := value: write \\2a for a literal *.");
            using var match = writer.PushSequence(Context(Extensible, true));
            if (rule is not null) writer.WriteOctetString(Encoding.UTF8.GetBytes(rule), Context(1, false));
            if (attribute.Length > 0) writer.WriteOctetString(Encoding.UTF8.GetBytes(attribute), Context(2, false));
            writer.WriteOctetString(parts[0], Context(3, false));
            if (dnAttributes) writer.WriteBoolean(true, Context(4, false));
        }

        /// <summary>An attribute description or matching rule: a name or OID, with ;options.</summary>
        private string Name()
        {
            var start = _at;
            while (_at < text.Length && (char.IsAsciiLetterOrDigit(text[_at]) || text[_at] is '-' or ';' or '.')) _at++;
            return text[start.._at];
        }

        /// <summary>The value up to the closing parenthesis, split at each unescaped *, with \hh escapes decoded.</summary>
        private List<byte[]> ValueParts()
        {
            var parts = new List<byte[]>();
            var bytes = new List<byte>();
            var plain = new StringBuilder();
            void Flush()
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(plain.ToString()));
                plain.Clear();
            }
            while (_at < text.Length && text[_at] != ')')
            {
                var c = text[_at];
                switch (c)
                {
                    case '(':
                        throw Error($"The filter has a ( inside a value at character {_at + 1}: write \\28 for a literal (.");
                    case '\0':
                        throw Error($"The filter has a NUL character at character {_at + 1}: write \\00.");
                    case '*':
                        Flush();
                        parts.Add([.. bytes]);
                        bytes.Clear();
                        _at++;
                        break;
                    case '\\':
                        if (_at + 2 >= text.Length || !char.IsAsciiHexDigit(text[_at + 1]) || !char.IsAsciiHexDigit(text[_at + 2]))
                            throw Error($"The filter has a \\ at character {_at + 1} that is not followed by two hexadecimal digits: write \\5c for a literal \\.");
                        Flush();
                        bytes.Add(Convert.ToByte(text.Substring(_at + 1, 2), 16));
                        _at += 3;
                        break;
                    default:
                        plain.Append(c);
                        _at++;
                        break;
                }
            }
            Flush();
            parts.Add([.. bytes]);
            return parts;
        }

        private void Expect(char expected)
        {
            if (_at >= text.Length)
                throw Error(expected == ')'
                    ? "The filter's parentheses are unbalanced: a ( has no closing )."
                    : $"The filter ends where a {expected} was expected.");
            if (text[_at] != expected) throw Error($"The filter has \"{text[_at]}\" at character {_at + 1} where {expected} was expected.");
            _at++;
        }

        private char? Peek() => _at < text.Length ? text[_at] : null;
        private char? Next() => _at + 1 < text.Length ? text[_at + 1] : null;

        private void SkipSpaces()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at])) _at++;
        }

        private static LdapException Error(string sentence) => new(sentence);
    }
}

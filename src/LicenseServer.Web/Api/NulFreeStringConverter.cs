using System.Text.Json;
using System.Text.Json.Serialization;

namespace LicenseServer.Web.Api;

/// <summary>
/// Refuses a NUL character (\u0000) in any string of a request body, whatever the field, so that none
/// reaches PostgreSQL, whose text cannot hold one (see <see cref="Hosting.InputGuard"/>). Bytes that are not
/// UTF-8 and lone surrogates are refused by System.Text.Json itself. Writing is unchanged.
/// </summary>
internal sealed class NulFreeStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        return value is not null && value.Contains('\0')
            ? throw new JsonException("A string holds a NUL character (\\u0000), which the server does not accept.")
            : value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

/// <summary>
/// A text field that a client may also send as a JSON number, such as a process id: the number's digits are kept as
/// they were sent. Strings are read as every string is (<see cref="NulFreeStringConverter"/>).
/// </summary>
internal sealed class StringOrNumberConverter : JsonConverter<string>
{
    private static readonly NulFreeStringConverter Strings = new();

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Number
            ? System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan)
            : Strings.Read(ref reader, typeToConvert, options);

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

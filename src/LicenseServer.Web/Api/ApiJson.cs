using System.Text.Json;

namespace LicenseServer.Web.Api;

/// <summary>
/// Reads a client request body strictly: JSON content type, a size limit, no unknown fields, every
/// required field present, and each refusal a problem with its own code.
/// </summary>
internal static class ApiJson
{
    public static async Task<T> ReadAsync<T>(HttpRequest request) where T : class
    {
        if (!request.HasJsonContentType())
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send the request body as application/json.");
        if (request.ContentLength > ClientApi.MaxBodyBytes)
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The request body is larger than {ClientApi.MaxBodyBytes / 1024} KB.");
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, ClientApi.Json)
                ?? throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", "The request body is empty.");
        }
        catch (JsonException e)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", $"The request body is not valid: {Describe(e)}");
        }
    }

    private static string Describe(JsonException e)
    {
        var message = e.Message.Split(". Path:")[0].Split(" Path:")[0];
        return message.Length > 200 ? message[..200] : message.TrimEnd('.') + (e.Path is { Length: > 1 } path ? $" (at {path})." : ".");
    }

    /// <summary>A machine, product or process id as the API accepts it: short, printable, no spaces.</summary>
    public static string Identifier(string value, string field, int max = 128)
    {
        value = value.Trim();
        if (value.Length == 0) throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{field} is empty.");
        if (value.Length > max) throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{field} has at most {max} characters.");
        if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{field} may hold only letters, digits, '-', '_', '.' and ':'.");
        return value;
    }
}

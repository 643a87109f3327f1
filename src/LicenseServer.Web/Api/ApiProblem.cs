using LicenseServer.Core.Licenses;

namespace LicenseServer.Web.Api;

/// <summary>A refusal of the client API: an HTTP status, a stable code for programs, and a sentence for people.</summary>
public sealed class ApiException(int status, string code, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}

/// <summary>
/// Turns refusals into application/problem+json with a stable <c>code</c>. A database that does not
/// answer is <see cref="Hosting.DatabaseOutage"/>'s: a 503 the client may retry, never a 500.
/// </summary>
internal sealed class ApiProblems(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = ClientApi.MaxBodyBytes;
        try
        {
            // A NUL in the query string (e.g. ?search=) never reaches PostgreSQL; JSON bodies: ApiJson.
            if (Hosting.InputGuard.Problem(context.Request.Query) is not null)
                throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", "The query string holds a NUL character or bytes that are not UTF-8 text.");
            await next(context);
        }
        catch (ApiException e)
        {
            await WriteAsync(context, e.Status, e.Code, e.Message);
        }
        catch (LicenseRuleException e)
        {
            await WriteAsync(context, StatusOf(e.Code), e.Code, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteAsync(context, 413, "body_too_large", $"The request body is larger than {ClientApi.MaxBodyBytes / 1024} KB.");
        }
        catch (Exception e) when (Hosting.InputGuard.IsUnstorableText(e) && !context.Response.HasStarted)
        {
            // Should a character PostgreSQL cannot store slip past the checks: the request's fault, not the database's.
            await WriteAsync(context, 400, "invalid_request", "The request holds text the server cannot store (a NUL character).");
        }
    }

    /// <summary>The status of a seat or license rule's refusal, from the API's one list of codes.</summary>
    public static int StatusOf(string code) => ApiProblemCodes.Find(code)?.Status ?? StatusCodes.Status400BadRequest;

    public static async Task WriteAsync(HttpContext context, int status, string code, string detail)
    {
        if (context.Response.HasStarted) return;
        // A Retry-After the handler set before it threw (a throttled sign-in says how long) outlives the clearing.
        var retryAfter = context.Response.Headers.RetryAfter;
        context.Response.Clear();
        if (retryAfter.Count > 0) context.Response.Headers.RetryAfter = retryAfter;
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status429TooManyRequests && !context.Response.Headers.ContainsKey("Retry-After")) context.Response.Headers.RetryAfter = "1";
        await WriteProblemAsync(context, status, code, detail);
    }

    /// <summary>The problem body alone, on a response whose status and headers the caller has set.</summary>
    public static Task WriteProblemAsync(HttpContext context, int status, string code, string detail) =>
        context.Response.WriteAsJsonAsync(new
        {
            type = $"https://kit.example/problems/{code}",
            title = ReasonPhrase(status),
            status,
            detail,
            code,
        }, ClientApi.Json, "application/problem+json");

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}

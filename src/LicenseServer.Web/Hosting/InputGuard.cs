using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Primitives;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Text the server refuses wherever it arrives, before any of it reaches PostgreSQL: a NUL character
/// (PostgreSQL text cannot hold one, answers 22021, and a bind error while Npgsql auto-prepares a statement
/// leaves the pooled connection out of step for its next user), and a U+FFFD replacement character, which is
/// what ASP.NET Core decodes a byte sequence that is not UTF-8 into.
/// </summary>
public static class InputGuard
{
    public const string NulMessage =
        "The form holds a NUL character (\\0), which the server cannot store. Remove it (it often comes with text pasted from a binary file) and try again.";
    public const string MalformedMessage = "The form could not be read. Reload the page and send it again.";
    public const string NotUtf8Message =
        "The form holds bytes that are not UTF-8 text. Send the form from a browser, or encode the text as UTF-8, and try again.";

    /// <summary>Why <paramref name="text"/> is refused, or null when it is fine.</summary>
    public static string? Problem(string? text) =>
        text is null ? null
        : text.Contains('\0') ? NulMessage
        : text.Contains('\uFFFD') ? NotUtf8Message
        : null;

    public static string? Problem(IEnumerable<KeyValuePair<string, StringValues>> fields)
    {
        foreach (var (key, values) in fields)
        {
            if (Problem(key) is { } keyProblem) return keyProblem;
            foreach (var value in values)
                if (Problem(value) is { } problem) return problem;
        }
        return null;
    }

    /// <summary>The key under which the error page finds the sentence to show.</summary>
    public const string MessageItem = "Kit.InputProblem";

    /// <summary>What a PostgreSQL data error that slipped past the checks means for the person who sent it.</summary>
    public static bool IsUnstorableText(Exception? e) => e is Npgsql.PostgresException { SqlState: "22021" or "22P05" };

    /// <summary>The console answers 400 instead of 500 for text PostgreSQL cannot store (a last line behind ConsoleInputGuard).</summary>
    public static int ConsoleStatusOf(Exception e) => IsUnstorableText(e) ? StatusCodes.Status400BadRequest : StatusCodes.Status500InternalServerError;

    /// <summary>The sentence the error page shows for this request, when the guard refused it.</summary>
    public static string? MessageFor(HttpContext context) =>
        context.Items[MessageItem] as string
        ?? (IsUnstorableText(context.Features.Get<IExceptionHandlerFeature>()?.Error) ? NulMessage : null);
}

/// <summary>
/// Every console request, to any page, old or added later: a refused character in the query string or in a
/// form field answers 400 with a sentence before any page runs, so nothing is stored. ASP.NET Core's own
/// form reader fails on an encoded NUL (%00) with an error that only the antiforgery check would turn into
/// a 400 without a word; here it is read first, to say what is wrong.
/// </summary>
internal static class ConsoleInputGuard
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        // The error page re-executes this very request to explain a refusal: let it.
        if (context.Request.Path.StartsWithSegments("/api") || context.Features.Get<IStatusCodeReExecuteFeature>() is not null)
        {
            await next();
            return;
        }
        string? problem;
        try
        {
            // A form is read once and kept: the page that takes it reads the same one, plugin uploads included.
            problem = InputGuard.Problem(context.Request.Query)
                      ?? (context.Request.HasFormContentType ? InputGuard.Problem(await context.Request.ReadFormAsync(context.RequestAborted)) : null);
        }
        catch (InvalidDataException e)
        {
            // FormPipeReader wraps its URL decoder's refusal of a NUL; anything else is a form that is not well formed.
            problem = e.InnerException is InvalidOperationException ? InputGuard.NulMessage : InputGuard.MalformedMessage;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // A body without a length that grew past its limit while it was read (ConsoleBodyLimit, PluginUploads).
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }
        if (problem is not null)
        {
            context.Items[InputGuard.MessageItem] = problem;
            // No body: the status code pages answer with the error page, which shows the sentence.
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        await next();
    }
}

using Microsoft.AspNetCore.Http.Features;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Console forms are small (the longest, a list of emails to invite, is a few dozen KB), so a body over
/// <see cref="MaxBytes"/> is refused with 413 before it is read, instead of Kestrel's 30 MB. Plugin uploads
/// (<see cref="PluginUploads"/>) and the client API (16 KB, <see cref="Api.ClientApi.MaxBodyBytes"/>) have limits of their own.
/// </summary>
public static class ConsoleBodyLimit
{
    public const long MaxBytes = 1024 * 1024;

    public static Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        // The error page, re-executed for the 413 below, passes: it does not read the body.
        if (context.Request.Path.StartsWithSegments("/api") || PluginUploads.IsUpload(context.Request)
            || context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodeReExecuteFeature>() is not null)
            return next();
        if (context.Request.ContentLength > MaxBytes)
        {
            // No body: the status code pages answer with the error page's sentence for 413.
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return Task.CompletedTask;
        }
        // A body without a length (chunked) stops at the same size while it is read.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBytes;
        return next();
    }
}

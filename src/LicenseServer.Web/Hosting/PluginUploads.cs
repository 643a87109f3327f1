namespace LicenseServer.Web.Hosting;

/// <summary>
/// Plugin uploads may be up to Kit:Plugins:MaxUploadMegabytes; every other request keeps Kestrel's
/// default limit. The body limit is raised before anything reads the form, for that route only.
/// </summary>
internal static class PluginUploads
{
    public static long MaxBytes(KitOptions options) => (long)options.Plugins.MaxUploadMegabytes * 1024 * 1024;

    /// <summary>A post to an organization's Plugins page or the server admin's Offline plugins: the console routes that take large bodies.</summary>
    public static bool IsUpload(HttpRequest request)
    {
        var path = (request.Path.Value ?? "").TrimEnd('/');
        return HttpMethods.IsPost(request.Method)
               && (path.Equals("/Admin/Plugins", StringComparison.OrdinalIgnoreCase)
                   || (path.StartsWith("/Organizations/", StringComparison.OrdinalIgnoreCase) && path.EndsWith("/Plugins", StringComparison.OrdinalIgnoreCase)));
    }

    public static Func<HttpContext, Func<Task>, Task> AllowLargeBody(KitOptions options) => (context, next) =>
    {
        if (!IsUpload(context.Request)) return next();
        var allowed = MaxBytes(options) + 1024 * 1024; // room for the form's other fields
        if (context.Request.ContentLength > allowed)
        {
            // Refused before a byte of the upload is read.
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentType = "text/html; charset=utf-8";
            return context.Response.WriteAsync(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too large · Kit License Server</title><link rel=\"stylesheet\" href=\"/css/site.css\"></head>" +
                $"<body><main><h1>Too large</h1><p class=\"error\" role=\"alert\">The upload is larger than the server accepts: plugin packages may be at most {options.Plugins.MaxUploadMegabytes} MB.</p>" +
                "<p><a href=\"/\">Back to the dashboard</a></p></main></body></html>");
        }
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = allowed;
        return next();
    };
}

using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

[IgnoreAntiforgeryToken]
public sealed class ErrorModel : PageModel
{
    public string Title { get; private set; } = "Something went wrong";
    public string Message { get; private set; } = "The server could not complete this request. Try again; if it keeps failing, tell your administrator and quote the time.";

    // The code comes from the query only: a re-executed POST may carry a body that must not be read.
    public void OnGet([FromQuery] int? code) => Describe(code);

    public void OnPost([FromQuery] int? code) => Describe(code);

    private void Describe(int? code)
    {
        (Title, Message) = code switch
        {
            404 => ("Page not found", "There is no page at this address."),
            403 => ("Not allowed", "Your account is not allowed to open this page."),
            400 => ("Bad request", "The form could not be accepted. Reload the page and try again."),
            413 => ("Too large", $"This is larger than the server accepts: a form may hold {ConsoleBodyLimit.MaxBytes / 1024} KB, a plugin package the size its page says. Send less at once."),
            _ => (Title, Message),
        };
        if (InputGuard.MessageFor(HttpContext) is { } refused) (Title, Message) = ("Bad request", refused);
    }
}

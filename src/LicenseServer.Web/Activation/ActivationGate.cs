using LicenseServer.Web.Accounts;

namespace LicenseServer.Web.Activation;

/// <summary>
/// Until the server is activated every console page leads to the Activate screen; after
/// activation and until the default account exists, to the Setup screen. A user who signed in with a
/// password set by SQL is sent to change it first. System endpoints pass untouched.
/// </summary>
internal sealed class ActivationGate(RequestDelegate next)
{
    private static readonly string[] AlwaysOpen = ["/health", "/version", "/css/", "/Error", "/favicon.ico", "/api/", "/metrics"];

    public async Task InvokeAsync(HttpContext context, ActivationService activation)
    {
        var path = context.Request.Path.Value ?? "/";
        if (AlwaysOpen.Any(p => path.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
        {
            await next(context);
            return;
        }
        var onActivate = path.StartsWith("/Activate", StringComparison.OrdinalIgnoreCase);
        var onSetup = path.StartsWith("/Setup", StringComparison.OrdinalIgnoreCase);
        var (activated, defaultAccount) = await activation.SetupStateAsync();
        if (!activated)
        {
            // After the license was deleted the admin must still be able to sign in to upload one.
            var onAccount = defaultAccount && path.StartsWith("/Account/", StringComparison.OrdinalIgnoreCase);
            if (!onActivate && !onAccount) { context.Response.Redirect("/Activate"); return; }
        }
        else if (!defaultAccount)
        {
            if (!onSetup && !onActivate) { context.Response.Redirect("/Setup"); return; }
        }
        else if (context.User.HasClaim(KitClaims.MustChangePassword, "true")
                 && !path.StartsWith("/Account/", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Redirect("/Account/ChangePassword");
            return;
        }
        await next(context);
    }
}

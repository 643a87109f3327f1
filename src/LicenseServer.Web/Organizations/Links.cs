using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Organizations;

/// <summary>Links that leave the server (emails, copy buttons) start from the configured server URL, never from a request's Host header.</summary>
public sealed class Links(KitOptions options)
{
    private string Base => options.ServerUrl.TrimEnd('/');

    public string Invitation(string token) => $"{Base}/Invitation?token={Uri.EscapeDataString(token)}";

    public string PasswordReset(string token) => $"{Base}/Account/ResetPassword?token={Uri.EscapeDataString(token)}";

    public string SignIn => $"{Base}/Account/SignIn";

    public string ForgotPassword() => $"{Base}/Account/ForgotPassword";
}

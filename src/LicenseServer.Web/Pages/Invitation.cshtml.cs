using System.Security.Claims;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

/// <summary>A new user sets a password and joins; an existing user signs in and joins.</summary>
public sealed class InvitationModel(InvitationService invitations) : PageModel
{
    public InvitationLink Link { get; private set; } = new(LinkStatus.Invalid, null);
    public string? Token { get; private set; }
    public string? Error { get; private set; }

    private string? SignedInEmail => User.Identity?.IsAuthenticated == true ? User.FindFirstValue(ClaimTypes.Email) : null;

    public async Task OnGetAsync(string? token)
    {
        Token = token;
        Link = await invitations.OpenAsync(token, SignedInEmail);
        if (Link.Status != LinkStatus.SetPassword && Link.Status != LinkStatus.SignIn && Link.Status != LinkStatus.Join)
            Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    public async Task<IActionResult> OnPostSetPasswordAsync(string? token, string? password, string? confirmation)
    {
        Token = token;
        try
        {
            var (accepted, link) = await invitations.AcceptWithPasswordAsync(token, SignedInEmail, password, confirmation);
            if (accepted)
            {
                TempData["Info"] = $"Your password is set and you have joined {link.Row!.OrganizationName}. Sign in with your new account.";
                return RedirectToPage("/Account/SignIn");
            }
            Link = link;
        }
        catch (PasswordRuleException e)
        {
            Link = await invitations.OpenAsync(token, SignedInEmail);
            Error = e.Message;
        }
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    public async Task<IActionResult> OnPostJoinAsync(string? token)
    {
        Token = token;
        if (SignedInEmail is not { } email) return Challenge();
        var (accepted, link) = await invitations.AcceptAsSignedInAsync(token, email);
        if (accepted)
        {
            TempData["Info"] = $"You have joined {link.Row!.OrganizationName}.";
            return Redirect($"/Organizations/{link.Row.OrganizationId}");
        }
        Link = link;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}

using LicenseServer.Web.Activation;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

public sealed class IndexModel(ActivationService activation) : PageModel
{
    public ActivationState State { get; private set; } = null!;
    public string? Info { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        State = await activation.GetStateAsync();
    }
}

using LicenseServer.Core.Organizations;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Organizations;

/// <summary>Names the permission a page handler needs. A POST handler without one is refused: the filter fails closed.</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class RequiresAttribute(OrgPermission permission) : Attribute
{
    public OrgPermission Permission { get; } = permission;
}

/// <summary>
/// Roles, checked on the server in one place for every page under /Organizations/{orgId}: not a member
/// answers 404 (no hint that the organization exists), a missing permission 403.
/// </summary>
public sealed class OrganizationAccessFilter : IAsyncPageFilter
{
    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        if (!context.RouteData.Values.TryGetValue("orgId", out var raw) || !long.TryParse(raw?.ToString(), out var organizationId))
        {
            await next();
            return;
        }
        var repository = context.HttpContext.RequestServices.GetRequiredService<OrganizationRepository>();
        var membership = await repository.MembershipAsync(organizationId, context.HttpContext.User.UserId());
        if (membership is null)
        {
            context.Result = new NotFoundResult();
            return;
        }
        var required = Required(context);
        if (required is null || !membership.Has(required.Value))
        {
            context.Result = new StatusCodeResult(StatusCodes.Status403Forbidden);
            return;
        }
        context.HttpContext.Items[typeof(Membership)] = membership;
        await next();
    }

    private static OrgPermission? Required(PageHandlerExecutingContext context)
    {
        var method = context.HandlerMethod?.MethodInfo;
        var attribute = method?.GetCustomAttributes(typeof(RequiresAttribute), true).OfType<RequiresAttribute>().FirstOrDefault();
        if (attribute is not null) return attribute.Permission;
        var isRead = HttpMethods.IsGet(context.HttpContext.Request.Method) || HttpMethods.IsHead(context.HttpContext.Request.Method);
        return isRead ? OrgPermission.View : null;
    }
}

/// <summary>A page inside an organization: the filter has checked the caller's membership before any handler runs.</summary>
public abstract class OrganizationPageModel : PageModel
{
    public Membership Membership => (Membership)HttpContext.Items[typeof(Membership)]!;
    public string? Error { get; protected set; }
    public string? Info { get; protected set; }

    /// <summary>The confirmation a destructive handler asks for before it acts (see <see cref="Confirmation"/>).</summary>
    public Confirmation? Confirm { get; protected set; }

    /// <summary>
    /// Shows <paramref name="confirmation"/> above the page, as it was before the click, and changes nothing; when
    /// the thing to act on is gone (null), says <paramref name="gone"/> instead.
    /// </summary>
    protected async Task<IActionResult> AskAsync(Confirmation? confirmation, string gone, Func<Task<bool>> reload)
    {
        if (!await reload()) return NotFound();
        if (confirmation is null) Refuse(gone);
        else Confirm = confirmation with { CancelUrl = QueryHelpers.AddQueryString(Request.PathBase + Request.Path, Request.Query.Where(q => q.Key != "handler").SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))) };
        return Page();
    }

    protected void Refuse(string message)
    {
        Error = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    /// <summary>
    /// Post-redirect-get for a management action: done, back to this page with its message; refused by a
    /// rule (of the organization or of the seats), this page again with the reason (after <paramref name="reload"/>,
    /// which says whether it still exists); 409 when the seat pool stayed locked too long (busy), else 400.
    /// </summary>
    protected async Task<IActionResult> ActAsync(Func<Task<string>> action, Func<Task<bool>> reload)
    {
        try
        {
            TempData["Info"] = await action();
            return Redirect(Request.PathBase + Request.Path);
        }
        catch (Exception e) when (e is OrganizationRuleException or LicenseServer.Core.Licenses.LicenseRuleException)
        {
            if (!await reload()) return NotFound();
            Refuse(e.Message);
            if (e is LicenseServer.Core.Licenses.LicenseRuleException { Code: "busy" }) Response.StatusCode = StatusCodes.Status409Conflict;
            return Page();
        }
    }
}

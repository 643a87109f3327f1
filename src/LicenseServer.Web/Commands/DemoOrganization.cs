using LicenseServer.Data.Accounts;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Commands;

/// <summary>
/// kit-server demo-organization: what the quick start shows at once. An organization owned by an existing account
/// (the first organization of a server receives every seat no organization holds yet), each product of the license
/// assigned to its owner, and an API key of the owner, printed once, for a runtime engine to check out with.
/// </summary>
internal static class DemoOrganization
{
    public static async Task<int> CreateAsync(IServiceProvider services, string ownerEmail, string name)
    {
        if (await services.GetRequiredService<UserAccountRepository>().FindByEmailAsync(ownerEmail) is not { } owner)
        {
            Console.Error.WriteLine($"There is no account with the email {ownerEmail}: create it first (create-default-account).");
            return 1;
        }
        long organizationId;
        IReadOnlyList<LicenseServer.Data.Licenses.PoolRow> pools;
        string key;
        try
        {
            organizationId = await services.GetRequiredService<OrganizationService>().CreateAsync(name, owner.Id, serverAdmin: true);
            var membership = (await services.GetRequiredService<OrganizationRepository>().MembershipAsync(organizationId, owner.Id))!;
            var licenses = services.GetRequiredService<LicenseService>();
            pools = await licenses.PoolsAsync(membership);
            foreach (var pool in pools.Where(p => p.Quota > 0))
                await licenses.AssignAsync(membership, pool.Code, owner.Email);
            key = await licenses.CreateApiKeyAsync(membership, "demo");
        }
        catch (Exception e) when (e is OrganizationRuleException or LicenseServer.Core.Licenses.LicenseRuleException)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        Console.WriteLine($"Created the organization \"{name}\" (id {organizationId}), owned by {owner.Email}, with these shares of the license:");
        foreach (var pool in pools)
            Console.WriteLine(pool.Quota > 0
                ? $"  {pool.Code}: {pool.Quota} seats, assigned to {owner.Email}"
                : $"  {pool.Code}: no seats (other organizations hold them: the server admin shares them under All licenses)");
        Console.WriteLine($"API key of {owner.Email} (shown once): {key}");
        return 0;
    }
}

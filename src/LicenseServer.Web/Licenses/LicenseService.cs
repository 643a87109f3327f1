using System.Text.RegularExpressions;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Core.Security;
using LicenseServer.Data.Activation;
using LicenseServer.Data.Database;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Licenses;

/// <summary>The churn limit for one per-user product: the server admin's own limit, the default without one, and the vendor's.</summary>
public sealed record ChurnLimitRow(string Code, string Name, ChurnLimit? Own, ChurnLimit Default, ChurnLimit Vendor);

public sealed record OfflineDraft(LicensedProductTerms Product, string MachineId, DateTimeOffset ExpiresAt, string FileName);

/// <summary>License Management for the console: reads the pools, resolves emails to members, and calls the seat ledger.</summary>
public sealed class LicenseService(
    SeatLedger ledger,
    LicenseRepository licenses,
    MemberRepository members,
    ApiKeyRepository apiKeys,
    ServerLicenseRepository serverLicense,
    ActivationService activation,
    TrustedVendorKeys trusted,
    ClockGuard clockGuard,
    ReservationRepository reservations,
    MachineRuleRepository machineRules,
    ChurnLimitRepository churnLimits,
    EffectiveLimits limits,
    SeatWatch seats,
    TimeProvider clock)
{
    public Task<IReadOnlyList<PoolRow>> PoolsAsync(Membership actor) => licenses.PoolsAsync(actor.OrganizationId);

    /// <summary>Members by email; an unknown email or a non-member refuses the whole request.</summary>
    public async Task<IReadOnlyList<(long UserId, string Email)>> MembersAsync(Membership actor, string? emailsText)
    {
        var parsed = EmailList.Parse(emailsText, 500);
        if (!parsed.Ok) throw new LicenseRuleException("invalid_email", string.Join(" ", parsed.Problems));
        var found = await members.LookupAsync(actor.OrganizationId, parsed.Emails);
        var problems = new List<string>();
        foreach (var (email, (userId, member)) in found)
        {
            if (userId is null) problems.Add($"There is no account with {email}: invite them to the organization first.");
            else if (!member) problems.Add($"{email} is not a member of this organization: invite them first.");
        }
        if (problems.Count > 0) throw new LicenseRuleException(found.Values.Any(v => v.UserId is null) ? "unknown_email" : "not_a_member", string.Join(" ", problems) + " Nothing was granted.");
        return parsed.Emails.Select(e => (found[e].UserId!.Value, e)).ToList();
    }

    private async Task<(long UserId, string Email)> MemberAsync(Membership actor, long userId)
    {
        var row = await members.GetAsync(actor.OrganizationId, userId)
            ?? throw new LicenseRuleException("not_a_member", "That user is not a member of this organization.");
        return (row.UserId, row.Email);
    }

    public async Task<int> AssignAsync(Membership actor, string product, string? emails)
    {
        var users = await MembersAsync(actor, emails);
        await seats.TakeAsync(actor.OrganizationId, product, users.Count == 1 ? users[0].UserId : null, null,
            () => ledger.AssignAsync(actor.OrganizationId, product, users, actor.UserId));
        return users.Count;
    }

    /// <summary>Returns when the seat is free: null for now, else when the last lease of the user's machines expires.</summary>
    public async Task<DateTimeOffset?> UnassignAsync(Membership actor, string product, long userId) =>
        await ledger.UnassignAsync(actor.OrganizationId, product, await MemberAsync(actor, userId), actor.UserId);

    public async Task TransferAsync(Membership actor, string product, long fromUserId, string? toEmail)
    {
        var from = await MemberAsync(actor, fromUserId);
        var to = await MembersAsync(actor, toEmail);
        if (to.Count != 1) throw new LicenseRuleException("invalid_email", "Transfer to exactly one member.");
        if (to[0].UserId == from.UserId) throw new LicenseRuleException("same_user", $"{from.Email} has this license already.");
        await ledger.TransferAsync(actor.OrganizationId, product, from, to[0], actor.UserId);
    }

    public async Task BulkAsync(Membership actor, IReadOnlyList<string> products, IReadOnlyList<long> userIds, bool grant)
    {
        if (products.Count == 0) throw new LicenseRuleException("no_products", "Select at least one product.");
        if (userIds.Count == 0) throw new LicenseRuleException("no_users", "Select at least one user.");
        var all = (await members.ListAsync(actor.OrganizationId)).ToDictionary(m => m.UserId);
        var missing = userIds.Where(id => !all.ContainsKey(id)).ToList();
        if (missing.Count > 0) throw new LicenseRuleException("not_a_member", "A selected user is not a member of this organization. Nothing was changed.");
        var codes = products.Distinct().ToList();
        var users = userIds.Distinct().Select(id => (id, all[id].Email)).ToList();
        try
        {
            await ledger.BulkAsync(actor.OrganizationId, codes, users, grant, actor.UserId);
        }
        catch (LicenseRuleException e) when (grant && e.IsSeatRefusal())
        {
            // All or nothing: the ledger stops at the one product it refused, and names it.
            if (e.Product is { } refused)
                await seats.RefusedAsync(actor.OrganizationId, refused, e.Code, users.Count == 1 ? users[0].id : null, null);
            throw;
        }
        if (grant)
            foreach (var code in codes) seats.Taken(actor.OrganizationId, code);
    }

    public async Task DeactivateMachineAsync(Membership actor, string product, long activationId)
    {
        if (!await licenses.DeactivateMachineAsync(actor.OrganizationId, product, activationId, actor.UserId))
            throw new LicenseRuleException("not_found", "That machine is not activated any more.");
    }

    public async Task EndSessionAsync(Membership actor, string product, Guid sessionId)
    {
        if (!await licenses.EndSessionAsync(actor.OrganizationId, product, sessionId, actor.UserId))
            throw new LicenseRuleException("not_found", "That session has ended already.");
    }

    /// <summary>Offline licenses, first step: checks everything and shows what will be created; nothing is stored.</summary>
    public async Task<OfflineDraft> DraftOfflineAsync(Membership actor, string product, string? machineId, string? expiry)
    {
        var terms = await licenses.ProductTermsAsync(product)
            ?? throw Refusals.Word("unknown_product", new RefusalFacts(product));
        var machine = OfflineRules.CheckMachineId(machineId);
        DateOnly? day = null;
        if (!string.IsNullOrWhiteSpace(expiry))
            day = DateOnly.TryParseExact(expiry.Trim(), "yyyy-MM-dd", out var parsed) ? parsed
                : throw new LicenseRuleException("invalid_date", "Enter the expiry date as yyyy-MM-dd, or leave it empty for the end of the subscription.");
        var expiresAt = OfflineRules.Expiry(terms, day, clock.GetUtcNow());
        return new OfflineDraft(terms, machine, expiresAt, OfflineRules.FileName(terms.Code, machine));
    }

    /// <summary>
    /// Offline licenses, confirmed: takes a seat until the expiry and stores the file signed with the server key, carrying the
    /// vendor's proof. The file is verified as the user's client will verify it before anything is stored: the
    /// database says what the products are, but only the vendor's .lic counts on the user's machine.
    /// </summary>
    public async Task<Guid> CreateOfflineAsync(Membership actor, string product, string? machineId, string? expiry)
    {
        clockGuard.Require();
        var draft = await DraftOfflineAsync(actor, product, machineId, expiry);
        var vendorLicense = await serverLicense.GetAsync() ?? throw new LicenseRuleException("server_not_activated", "The server is not activated.");
        var vouched = LicenseVerifier.ReadStored(vendorLicense.FileText);
        var identity = await activation.EnsureIdentityAsync();
        if (vouched.ServerPublicKey != identity.ServerPublicKey)
            throw new LicenseRuleException("not_vouched",
                "The server's license does not vouch for this server's key, so clients could not verify an offline license. " +
                "Ask the vendor for a license issued from this server's license request.");
        var key = await activation.ServerKeyAsync();
        return await seats.TakeAsync(actor.OrganizationId, product, null, draft.MachineId, () =>
            ledger.CreateOfflineAsync(actor.OrganizationId, product, draft.MachineId, draft.ExpiresAt, actor.UserId, (id, terms, now) =>
            {
                var payload = new OfflineLicensePayload(id, terms.Code, terms.Name, terms.Kind, actor.OrganizationId, actor.OrganizationName,
                    draft.MachineId, now, draft.ExpiresAt, identity.InstallationId, identity.ServerPublicKey);
                var file = OfflineLicenseFile.Sign(payload, key, vendorLicense.FileText);
                try
                {
                    OfflineLicenseFile.Verify(file, trusted, clock, draft.MachineId);
                }
                catch (LicenseRejectedException e)
                {
                    throw new LicenseRuleException(e.Code, $"This offline license would not verify on the user's machine: {e.Message}");
                }
                return (draft.FileName, file);
            }));
    }

    public Task<IReadOnlyList<HeldSeatRow>> HeldSeatsAsync(Membership actor, string product) => licenses.HeldSeatsAsync(actor.OrganizationId, product);

    public async Task RemoveFloatingMachineAsync(Membership actor, string product, string? machineId)
    {
        switch (await licenses.RemoveFloatingMachineAsync(actor.OrganizationId, product, machineId ?? "", actor.UserId))
        {
            case null: throw new LicenseRuleException("machine_busy", $"{machineId} runs a live session: end it first.");
            case false: throw new LicenseRuleException("not_found", "That machine is not registered.");
        }
    }
    public Task<(string FileName, string Text)?> OfflineFileAsync(Membership actor, Guid id) => licenses.OfflineFileAsync(actor.OrganizationId, id);

    public Task<ListPage<ApiKeyRow>> ApiKeysAsync(Membership actor, ListQuery query) => apiKeys.PageAsync(actor.OrganizationId, actor.UserId, query);

    /// <summary>The key is returned once, to show; only its hash is stored.</summary>
    public async Task<string> CreateApiKeyAsync(Membership actor, string? name)
    {
        name = (name ?? "").Trim();
        if (name.Length is 0 or > 100 || name.Any(char.IsControl))
            throw new LicenseRuleException("invalid_name", "Name the key (up to 100 characters), e.g. the machine or pipeline that will use it.");
        var (key, prefix) = ApiKeyToken.New();
        await apiKeys.CreateAsync(actor.OrganizationId, actor.UserId, name, prefix, ApiKeyToken.Hash(key));
        return key;
    }

    public async Task RevokeApiKeyAsync(Membership actor, long keyId)
    {
        if (!await apiKeys.RevokeAsync(actor.OrganizationId, actor.UserId, keyId))
            throw new LicenseRuleException("not_found", "That key does not exist or is revoked already.");
    }

    /// <summary>The product's team reservations, as the License Management page shows them.</summary>
    public Task<IReadOnlyList<TeamReservation>> ReservationsAsync(Membership actor, string product) => reservations.ForProductAsync(actor.OrganizationId, product);

    public Task<IReadOnlyList<AllowedMachineRow>> AllowedMachinesAsync(Membership actor, string product) => machineRules.AllowedAsync(actor.OrganizationId, product);

    /// <summary>The first machine on the list restricts the floating product to the listed machines.</summary>
    public Task AllowMachineAsync(Membership actor, string product, string? machineId) =>
        machineRules.AllowAsync(actor.OrganizationId, product, OfflineRules.CheckMachineId(machineId), actor.UserId);

    public Task DisallowMachineAsync(Membership actor, string product, string? machineId) =>
        machineRules.DisallowAsync(actor.OrganizationId, product, OfflineRules.CheckMachineId(machineId), actor.UserId);

    public Task<IReadOnlyList<DisabledMachineRow>> DisabledMachinesAsync(Membership actor) => machineRules.DisabledAsync(actor.OrganizationId);

    /// <summary>Refused everywhere in the organization from now on; its live sessions end. Returns how many ended.</summary>
    public Task<int> DisableMachineAsync(Membership actor, string? machineId, string? reason) =>
        machineRules.DisableAsync(actor.OrganizationId, OfflineRules.CheckMachineId(machineId), MachineRules.CheckReason(reason), actor.UserId);

    public Task EnableMachineAsync(Membership actor, string? machineId) =>
        machineRules.EnableAsync(actor.OrganizationId, OfflineRules.CheckMachineId(machineId), actor.UserId);

    /// <summary>
    /// The churn limit for each per-user product: the server admin's own limit, if any; the default it follows otherwise (the
    /// server's setting within the vendor's license); and the vendor's, beyond which no limit goes.
    /// </summary>
    public async Task<IReadOnlyList<ChurnLimitRow>> ChurnLimitsAsync()
    {
        var rows = new List<ChurnLimitRow>();
        foreach (var (code, name, own) in await churnLimits.ListAsync())
        {
            var inForce = await limits.ForAsync(code);
            rows.Add(new ChurnLimitRow(code, name, own, inForce.Churn, inForce.VendorChurn));
        }
        return rows;
    }

    /// <summary>A product's own churn limit, within the vendor's; both fields empty go back to the default.</summary>
    public async Task SetChurnLimitAsync(long actor, string product, string? activations, string? days)
    {
        var inForce = await limits.ForAsync(product);
        if (string.IsNullOrWhiteSpace(activations) && string.IsNullOrWhiteSpace(days))
        {
            await churnLimits.SetAsync(product, null, inForce.Churn, actor);
            return;
        }
        if (!int.TryParse(activations, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count) || count < 1 ||
            !int.TryParse(days, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var window) || window is < 1 or > 3650)
            throw new LicenseRuleException("invalid_churn_limit",
                "Enter the number of activations (1 or more) and the window in days (1 to 3650), or leave both empty to use the default.");
        var limit = new ChurnLimit(count, window);
        var vendor = inForce.VendorChurn;
        if (!limit.Within(vendor))
            throw new LicenseRuleException("churn_limit_above_license",
                $"The vendor's license allows at most {vendor} for {product}: enter at most {vendor.Activations} activation{(vendor.Activations == 1 ? "" : "s")} " +
                $"over at least {vendor.WindowDays} day{(vendor.WindowDays == 1 ? "" : "s")}, or leave both empty to use the default.");
        await churnLimits.SetAsync(product, limit, inForce.Churn, actor);
    }

    public Task<IReadOnlyList<AllocationRow>> AllocationsAsync() => licenses.AllocationsAsync();

    public Task SetAllocationAsync(long actor, long organizationId, string product, string? quota) =>
        int.TryParse(quota, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seats)
            ? licenses.SetAllocationAsync(organizationId, product, seats, actor)
            : throw new LicenseRuleException("invalid_quota", "A share is a whole number of seats, 0 or more.");
}

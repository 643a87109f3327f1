using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>License Management, per-user assignment, floating checkout, offline licenses, the machine rules (and the reservations, shown): one product of the organization at a time (?product=CODE).</summary>
public sealed class LicensesModel(LicenseService licenses, LicenseListRepository lists) : OrganizationPageModel
{
    [FromQuery(Name = "product")] public string? ProductCode { get; set; }
    public IReadOnlyList<PoolRow> Pools { get; private set; } = [];
    public PoolRow? Pool { get; private set; }
    public IReadOnlyList<LicensedUserRow> LicensedUsers { get; private set; } = [];
    public IReadOnlyList<HeldSeatRow> HeldSeats { get; private set; } = [];
    public IReadOnlyList<MachineRow> Machines { get; private set; } = [];
    public IReadOnlyList<SessionRow> Sessions { get; private set; } = [];
    public IReadOnlyList<OfflineRow> Offline { get; private set; } = [];
    public IReadOnlyList<FloatingMachineRow> RegisteredMachines { get; private set; } = [];
    public ListView LicensedUserList => field ??= new(Request, "users", "licensed users");
    public ListView MachineList => field ??= new(Request, "machines", "online licenses");
    public ListView SessionList => field ??= new(Request, "sessions", "sessions");
    public ListView RegisteredMachineList => field ??= new(Request, "registered", "registered machines");
    public ListView OfflineList => field ??= new(Request, "offline", "offline licenses");
    public IReadOnlyList<TeamReservation> Reservations { get; private set; } = [];
    public IReadOnlyList<AllowedMachineRow> AllowedMachines { get; private set; } = [];
    public IReadOnlyList<DisabledMachineRow> DisabledMachines { get; private set; } = [];
    public bool IsDisabled(string machineId) => DisabledMachines.Any(d => d.MachineId == machineId);
    public OfflineDraft? Draft { get; private set; }
    public string? Emails { get; private set; }
    public string? MachineId { get; private set; }
    public string? Expiry { get; private set; }

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnGetAsync()
    {
        Info = TempData["Info"] as string;
        return await LoadAsync() ? Page() : NotFound();
    }

    [Requires(OrgPermission.ManageOfflineLicenses)]
    public async Task<IActionResult> OnGetDownloadAsync(Guid id)
    {
        var file = await licenses.OfflineFileAsync(Membership, id);
        return file is { } f ? File(Encoding.UTF8.GetBytes(f.Text), "application/octet-stream", f.FileName) : NotFound();
    }

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostAssignAsync(string? emails) => RunAsync(async () =>
    {
        Emails = emails is { Length: > 30000 } ? emails[..30000] : emails;
        var count = await licenses.AssignAsync(Membership, ProductCode!, emails);
        return $"{ProductCode} has been assigned to {count} user{(count == 1 ? "" : "s")}.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostUnassignAsync(long userId) => RunAsync(async () =>
    {
        return await licenses.UnassignAsync(Membership, ProductCode!, userId) is { } heldUntil
            ? $"The license has been unassigned. Its seat is free at {LicenseServer.Core.Activation.LicenseVerifier.Format(heldUntil)}, " +
              "when the last lease of the user's machines expires (a lease keeps working offline until then)."
            : "The license has been unassigned.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostTransferAsync(long userId, string? toEmail) => RunAsync(async () =>
    {
        await licenses.TransferAsync(Membership, ProductCode!, userId, toEmail);
        return $"The license has been transferred to {EmailList.Normalize(toEmail)}.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostDeactivateAsync(long activationId) => RunAsync(async () =>
    {
        await licenses.DeactivateMachineAsync(Membership, ProductCode!, activationId);
        return "The machine has been deactivated.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostEndSessionAsync(Guid sessionId) => RunAsync(async () =>
    {
        await licenses.EndSessionAsync(Membership, ProductCode!, sessionId);
        return "The session has ended; its seat is free.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostRemoveMachineAsync(string? machineId) => RunAsync(async () =>
    {
        await licenses.RemoveFloatingMachineAsync(Membership, ProductCode!, machineId);
        return $"{machineId} is no longer registered; its place is free.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostAllowMachineAsync(string? machineId) => RunAsync(async () =>
    {
        await licenses.AllowMachineAsync(Membership, ProductCode!, machineId);
        return $"{machineId} is on the {ProductCode} allow-list.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostDisallowMachineAsync(string? machineId) => RunAsync(async () =>
    {
        await licenses.DisallowMachineAsync(Membership, ProductCode!, machineId);
        return $"{machineId} is no longer on the {ProductCode} allow-list.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostDisableMachineAsync(string? machineId, string? reason) => RunAsync(async () =>
    {
        var ended = await licenses.DisableMachineAsync(Membership, machineId, reason);
        return $"{machineId} is disabled in this organization" + (ended == 0 ? "." : $"; {ended} live session{(ended == 1 ? "" : "s")} ended.");
    });

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostEnableMachineAsync(string? machineId) => RunAsync(async () =>
    {
        await licenses.EnableMachineAsync(Membership, machineId);
        return $"{machineId} is enabled again.";
    });

    [Requires(OrgPermission.ManageOfflineLicenses)]
    public async Task<IActionResult> OnPostDraftOfflineAsync(string? machineId, string? expiry)
    {
        (MachineId, Expiry) = (machineId is { Length: > 200 } ? machineId[..200] : machineId, expiry is { Length: > 20 } ? expiry[..20] : expiry);
        try
        {
            Draft = await licenses.DraftOfflineAsync(Membership, ProductCode!, machineId, expiry);
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
        }
        return await LoadAsync() ? Page() : NotFound();
    }

    [Requires(OrgPermission.ManageOfflineLicenses)]
    public Task<IActionResult> OnPostCreateOfflineAsync(string? machineId, string? expiry) => RunAsync(async () =>
    {
        (MachineId, Expiry) = (machineId, expiry);
        await licenses.CreateOfflineAsync(Membership, ProductCode!, machineId, expiry);
        return $"The offline license {OfflineRules.FileName(ProductCode!, OfflineRules.CheckMachineId(machineId))} has been created. Download it and send it to its user.";
    });

    private async Task<IActionResult> RunAsync(Func<Task<string>> action)
    {
        try
        {
            if (string.IsNullOrEmpty(ProductCode)) throw new LicenseRuleException("unknown_product", "Choose a product.");
            TempData["Info"] = await action();
            return Redirect($"/Organizations/{Membership.OrganizationId}/Licenses?product={Uri.EscapeDataString(ProductCode)}");
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
            Response.StatusCode = e.Code == "busy" ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest;
            return await LoadAsync() ? Page() : NotFound();
        }
    }

    private async Task<bool> LoadAsync()
    {
        Pools = await licenses.PoolsAsync(Membership);
        Pool = ProductCode is null ? Pools.FirstOrDefault() : Pools.FirstOrDefault(p => p.Code == ProductCode);
        if (Pool is null) return ProductCode is null;
        var org = Membership.OrganizationId;
        Reservations = await licenses.ReservationsAsync(Membership, Pool.Code);
        DisabledMachines = await licenses.DisabledMachinesAsync(Membership);
        if (Pool.Kind == ProductKind.PerUser)
        {
            LicensedUsers = LicensedUserList.Showing(await lists.LicensedUsersAsync(org, Pool.Code, LicensedUserList.Query)).Rows;
            HeldSeats = await licenses.HeldSeatsAsync(Membership, Pool.Code);
            Machines = MachineList.Showing(await lists.OnlineLicensesAsync(org, Pool.Code, MachineList.Query)).Rows;
        }
        else
        {
            Sessions = SessionList.Showing(await lists.SessionsAsync(org, Pool.Code, SessionList.Query)).Rows;
            RegisteredMachines = RegisteredMachineList.Showing(await lists.RegisteredMachinesAsync(org, Pool.Code, RegisteredMachineList.Query)).Rows;
            AllowedMachines = await licenses.AllowedMachinesAsync(Membership, Pool.Code);
        }
        Offline = OfflineList.Showing(await lists.OfflineLicensesAsync(org, Pool.Code, OfflineList.Query)).Rows;
        return true;
    }
}

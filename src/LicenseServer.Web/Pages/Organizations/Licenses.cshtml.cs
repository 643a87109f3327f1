using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>License Management, per-user assignment, floating checkout, offline licenses, the machine rules (and the reservations, shown): one product of the organization at a time (?product=CODE).</summary>
public sealed class LicensesModel(LicenseService licenses, LicenseListRepository lists, ImpactRepository impact, OrganizationRepository organizations)
    : OrganizationPageModel
{
    [FromQuery(Name = "product")] public string? ProductCode { get; set; }
    public IReadOnlyList<PoolRow> Pools { get; private set; } = [];
    public PoolRow? Pool { get; private set; }
    public IReadOnlyList<LicensedUserRow> LicensedUsers { get; private set; } = [];
    public IReadOnlyList<FloatingUserRow> FloatingUsers { get; private set; } = [];
    public bool FloatingAssignedOnly { get; private set; }
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
    public async Task<IActionResult> OnPostUnassignAsync(long userId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.LicenseAsync(Membership.OrganizationId, ProductCode ?? "", userId) is { } license
                ? Ask($"Unassign {ProductCode} from {license.Email}?", "Unassign", new() { ["userId"] = $"{userId}" }, Recall(license))
                : null, "That user does not hold this license (any more).");
        return await UnassignAsync(userId);
    }

    private Task<IActionResult> UnassignAsync(long userId) => RunAsync(async () =>
    {
        return await licenses.UnassignAsync(Membership, ProductCode!, userId) is { } heldUntil
            ? $"The license has been unassigned. Its seat is free at {LicenseServer.Core.Activation.LicenseVerifier.Format(heldUntil)}, " +
              "when the last lease of the user's machines expires (a lease keeps working offline until then)."
            : "The license has been unassigned.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostTransferAsync(long userId, string? toEmail, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.LicenseAsync(Membership.OrganizationId, ProductCode ?? "", userId) is { } license
                ? Ask($"Transfer {license.Email}'s {ProductCode} license to {EmailList.Normalize(toEmail)}?", "Transfer",
                    new() { ["userId"] = $"{userId}", ["toEmail"] = toEmail ?? "" }, Moved(license))
                : null, "That user does not hold this license (any more).");
        return await TransferAsync(userId, toEmail);
    }

    private Task<IActionResult> TransferAsync(long userId, string? toEmail) => RunAsync(async () =>
    {
        await licenses.TransferAsync(Membership, ProductCode!, userId, toEmail);
        return $"The license has been transferred to {EmailList.Normalize(toEmail)}.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostDeactivateAsync(long activationId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.ActivationAsync(Membership.OrganizationId, ProductCode ?? "", activationId) is { } machine
                ? Ask($"Deactivate {machine.MachineId} of {machine.Email}?", "Deactivate", new() { ["activationId"] = $"{activationId}" },
                    $"The machine stops renewing its lease. The lease it holds keeps working offline until {LicenseVerifier.Format(machine.LeaseExpiresAt)}, " +
                    "so it counts toward the user's machine limit until then. The user keeps the license.")
                : null, "That machine is not active (any more).");
        return await DeactivateAsync(activationId);
    }

    private Task<IActionResult> DeactivateAsync(long activationId) => RunAsync(async () =>
    {
        await licenses.DeactivateMachineAsync(Membership, ProductCode!, activationId);
        return "The machine has been deactivated.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostEndSessionAsync(Guid sessionId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.SessionAsync(Membership.OrganizationId, ProductCode ?? "", sessionId) is { } session
                ? Ask($"End the session of process {session.ProcessId} on {session.MachineId} ({session.Email})?", "End session",
                    new() { ["sessionId"] = $"{sessionId}" }, "Ends 1 session: its seat is free at once, and the process's next heartbeat is refused.")
                : null, "That session has ended already.");
        return await EndSessionAsync(sessionId);
    }

    private Task<IActionResult> EndSessionAsync(Guid sessionId) => RunAsync(async () =>
    {
        await licenses.EndSessionAsync(Membership, ProductCode!, sessionId);
        return "The session has ended; its seat is free.";
    });

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostRemoveMachineAsync(string? machineId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(Ask($"Remove {machineId} from the registered machines of {ProductCode}?", "Remove", new() { ["machineId"] = machineId ?? "" },
                "Frees 1 of the registered machines' places; the machine registers again at its next checkout if a place is free then."), "", LoadAsync);
        return await RemoveMachineAsync(machineId);
    }

    private Task<IActionResult> RemoveMachineAsync(string? machineId) => RunAsync(async () =>
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
    public async Task<IActionResult> OnPostDisableMachineAsync(string? machineId, string? reason, bool confirmed)
    {
        if (!confirmed)
        {
            var sessions = await impact.MachineSessionsAsync(Membership.OrganizationId, machineId ?? "");
            return await AskAsync(Ask($"Disable {machineId} in this organization?", "Disable", new() { ["machineId"] = machineId ?? "", ["reason"] = reason ?? "" },
                $"Ends {Confirmation.Count(sessions, "live session", "live sessions")} on it now; it cannot activate or check out any product of this " +
                "organization until it is enabled again."), "", LoadAsync);
        }
        return await DisableMachineAsync(machineId, reason);
    }

    private Task<IActionResult> DisableMachineAsync(string? machineId, string? reason) => RunAsync(async () =>
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

    private Task<IActionResult> AskAsync(Confirmation? confirmation, string gone) => AskAsync(confirmation, gone, LoadAsync);

    /// <summary>The confirmation of the handler that calls it (its name less OnPost and Async).</summary>
    private Confirmation Ask(string question, string button, Dictionary<string, string> fields, string consequences,
        [System.Runtime.CompilerServices.CallerMemberName] string caller = "") =>
        new(question, consequences, caller["OnPost".Length..^"Async".Length], button, fields) { Route = new() { ["product"] = ProductCode ?? "" } };

    /// <summary>
    /// What recalling a license does, in numbers: its seat is free at once, or held while its machines' leases work
    /// offline; a floating one ends its holder's live sessions.
    /// </summary>
    internal static string Recall(LicenseImpact license) => license.Floating
        ? $"Ends {Confirmation.Count(license.Sessions, "live session", "live sessions")} of {license.Email} (their seats are free at once), " +
          "and refuses their next checkout while only assigned members may check out."
        : license.LeasedUntil is { } until && license.Machines > 0
        ? $"Recalls 1 license. {Confirmation.Count(license.Machines, "machine keeps its lease", "machines keep their leases")} until {LicenseVerifier.Format(until)} " +
          "(a lease works offline), so the seat is held until then."
        : "Recalls 1 license; its seat is free at once.";

    /// <summary>What a transfer does: the license moves; the former holder's leases keep a second seat until they end.</summary>
    private static string Moved(LicenseImpact license) => license.LeasedUntil is { } until && license.Machines > 0
        ? $"{license.Email} loses the license. {Confirmation.Count(license.Machines, "machine keeps its lease", "machines keep their leases")} until {LicenseVerifier.Format(until)} " +
          "(a lease works offline), so until then the transfer takes a second seat."
        : $"{license.Email} loses the license; no seat is held after it.";


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
            FloatingUsers = LicensedUserList.Showing(await lists.FloatingUsersAsync(org, Pool.Code, LicensedUserList.Query)).Rows;
            FloatingAssignedOnly = await organizations.FloatingAssignedOnlyAsync(org);
            Sessions = SessionList.Showing(await lists.SessionsAsync(org, Pool.Code, SessionList.Query)).Rows;
            RegisteredMachines = RegisteredMachineList.Showing(await lists.RegisteredMachinesAsync(org, Pool.Code, RegisteredMachineList.Query)).Rows;
            AllowedMachines = await licenses.AllowedMachinesAsync(Membership, Pool.Code);
        }
        Offline = OfflineList.Showing(await lists.OfflineLicensesAsync(org, Pool.Code, OfflineList.Query)).Rows;
        return true;
    }
}

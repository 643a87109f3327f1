using LicenseServer.Data.Settings;

namespace LicenseServer.Web.Admin;

public sealed class ServerSettingsException(string message) : Exception(message);

/// <summary>The server's own settings, for the server admin: who may create organizations.</summary>
public sealed class ServerSettingsService(ServerSettingsRepository settings)
{
    public Task<OrganizationCreation> OrganizationCreationAsync() => settings.OrganizationCreationAsync();

    /// <summary>Whether this person may create an organization: a server admin always, anyone else only where the server admin allows it.</summary>
    public async Task<bool> MayCreateOrganizationsAsync(bool serverAdmin) =>
        serverAdmin || await settings.OrganizationCreationAsync() == OrganizationCreation.Anyone;

    public Task SetOrganizationCreationAsync(string? value, long actor) => settings.SetOrganizationCreationAsync(value switch
    {
        "server_admins" => OrganizationCreation.ServerAdmins,
        "anyone" => OrganizationCreation.Anyone,
        _ => throw new ServerSettingsException("Choose who may create organizations: server admins only, or any signed-in user."),
    }, actor);
}

namespace LicenseServer.Client;

public sealed record Organization(long Id, string Name, string Role);

public sealed record LoginResult(string Token, DateTimeOffset ExpiresAt, string Email, IReadOnlyList<Organization> Organizations);

/// <summary>A per-user activation: the signed lease text, which <see cref="KitVerifier"/> checks offline until it expires.</summary>
public sealed record Lease(string Product, string MachineId, long OrganizationId, DateTimeOffset ExpiresAt, string LeaseText);

public sealed record ServerInfo(string Version, string InstallationId, string ServerPublicKey, string? VendorLicense);

internal sealed record SessionDto(Guid SessionId, int HeartbeatIntervalSeconds, DateTimeOffset ExpiresAt, string? Grant);
internal sealed record LoginDto(string Token, DateTimeOffset ExpiresAt, string Email, IReadOnlyList<Organization> Organizations);
internal sealed record LeaseDto(string Product, string MachineId, long OrganizationId, DateTimeOffset ExpiresAt, string? Lease);
internal sealed record ProblemDto(string? Code, string? Detail, string? Title);

public sealed record PluginVersion(string Version, string Compatible, string Kind, string Sha256, long Size, DateTimeOffset UploadedAt);

public sealed record Plugin(string Id, string Name, string Description, IReadOnlyList<PluginVersion> Versions);

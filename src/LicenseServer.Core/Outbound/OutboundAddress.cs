using System.Net;
using System.Net.Sockets;

namespace LicenseServer.Core.Outbound;

/// <summary>Why the server never connects to an address.</summary>
public enum ForbiddenAddress { LinkLocal, Multicast, Broadcast, Unspecified, CloudMetadata }

/// <summary>
/// A host the server will not connect to: an address literal that is forbidden, or a name that resolved only to
/// forbidden addresses, with the kinds it found (in <see cref="ForbiddenAddress"/> order, each once).
/// </summary>
public sealed record OutboundRefusal(string Host, bool IsLiteral, IReadOnlyList<ForbiddenAddress> Kinds)
{
    /// <summary>"169.254.169.254 is a link-local address", "metadata.example resolves only to link-local addresses".</summary>
    public string Short => IsLiteral
        ? $"{Host} is {(Kinds[0] == ForbiddenAddress.Unspecified ? "an" : "a")} {OutboundAddress.Word(Kinds[0])} address"
        : $"{Host} resolves only to {Join(Kinds.Select(OutboundAddress.Word))} addresses";

    /// <summary>The refusal as the clause a longer sentence ends with.</summary>
    public string Clause => $"{Short}, which the server never connects to";

    public string Sentence => $"{Clause}.";

    private static string Join(IEnumerable<string> words)
    {
        var list = words.ToList();
        return list.Count == 1 ? list[0] : $"{string.Join(", ", list[..^1])} or {list[^1]}";
    }
}

/// <summary>
/// The rule for outbound connections that tenants configure (an organization's mail server, its alert webhook):
/// they never reach a link-local address (169.254.0.0/16, fe80::/10: cloud metadata services and the machine's
/// own link), a multicast address (224.0.0.0/4, ff00::/8), the limited broadcast (255.255.255.255) or the
/// unspecified address (0.0.0.0, ::), the cloud metadata services outside those ranges (fd00:ec2::254,
/// 100.100.100.200), also written as IPv4-mapped IPv6 (::ffff:169.254.169.254). Loopback and
/// private ranges stay allowed: customers run their mail servers on their intranet.
/// </summary>
public static class OutboundAddress
{
    /// <summary>Why the server never connects to <paramref name="address"/>, or null when it may.</summary>
    /// <summary>Cloud metadata services outside the link-local ranges: AWS's over IPv6, Alibaba Cloud's.</summary>
    private static readonly IPAddress[] MetadataServices = [IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("100.100.100.200")];

    public static ForbiddenAddress? Forbidden(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0) address = new IPAddress(address.GetAddressBytes());
        if (MetadataServices.Contains(address)) return ForbiddenAddress.CloudMetadata;
        var b = address.GetAddressBytes();
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => b switch
            {
                [169, 254, _, _] => ForbiddenAddress.LinkLocal,
                [>= 224 and <= 239, _, _, _] => ForbiddenAddress.Multicast,
                [255, 255, 255, 255] => ForbiddenAddress.Broadcast,
                [0, 0, 0, 0] => ForbiddenAddress.Unspecified,
                _ => null,
            },
            AddressFamily.InterNetworkV6 when b[0] == 0xfe && (b[1] & 0xc0) == 0x80 => ForbiddenAddress.LinkLocal,
            AddressFamily.InterNetworkV6 when b[0] == 0xff => ForbiddenAddress.Multicast,
            AddressFamily.InterNetworkV6 when b.All(x => x == 0) => ForbiddenAddress.Unspecified,
            _ => null,
        };
    }

    /// <summary>The address a host is written as ("10.0.0.5", "fe80::1", "[fe80::1]"), or null for a name.</summary>
    public static IPAddress? Literal(string host)
    {
        var text = host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        return IPAddress.TryParse(text, out var address) ? address : null;
    }

    /// <summary>
    /// The refusal for a host written as a forbidden address, for the settings forms: a name is checked when
    /// the server connects, as what it resolves to can change.
    /// </summary>
    public static OutboundRefusal? RefuseLiteral(string host) =>
        Literal(host) is { } address && Forbidden(address) is { } kind ? new OutboundRefusal(host, true, [kind]) : null;

    /// <summary>
    /// Of the addresses <paramref name="host"/> resolved to, those the server may connect to, in their order; when
    /// there were some and none is allowed, the refusal instead.
    /// </summary>
    public static (IReadOnlyList<IPAddress> Allowed, OutboundRefusal? Refusal) Choose(string host, IReadOnlyList<IPAddress> resolved)
    {
        var allowed = resolved.Where(a => Forbidden(a) is null).ToList();
        if (allowed.Count > 0 || resolved.Count == 0) return (allowed, null);
        var kinds = resolved.Select(a => Forbidden(a)!.Value).Distinct().Order().ToList();
        return ([], new OutboundRefusal(host, Literal(host) is not null, kinds));
    }

    public static string Word(ForbiddenAddress kind) => kind switch
    {
        ForbiddenAddress.LinkLocal => "link-local",
        ForbiddenAddress.Multicast => "multicast",
        ForbiddenAddress.Broadcast => "broadcast",
        ForbiddenAddress.CloudMetadata => "cloud metadata",
        _ => "unspecified",
    };
}

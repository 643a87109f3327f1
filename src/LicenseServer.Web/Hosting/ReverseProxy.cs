using System.Net;
using LicenseServer.Data.Audit;
using Microsoft.AspNetCore.HttpOverrides;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Who is calling, behind a reverse proxy. The proxy connects from its own address and names the caller in
/// X-Forwarded-For and the scheme in X-Forwarded-Proto; anyone can send those headers, so they are believed
/// only from the peers of <c>Kit:Proxy</c>, and then only the entry that proxy appended (ForwardLimit 1).
/// Without <c>Kit:Proxy</c>, from no one. The address so found is the caller's for the sign-in limits,
/// /metrics and the audit log; the scheme decides Strict-Transport-Security and Secure cookies.
/// </summary>
internal static class ReverseProxy
{
    /// <summary>Headers by which a proxy names the client it forwards; their being left on a request is what <see cref="NamesAnotherClient"/> looks for.</summary>
    private static readonly string[] ForwardingHeaders = ["X-Forwarded-For", "Forwarded", "X-Real-IP"];

    /// <summary>The forwarded headers middleware's options from the settings; null when no proxy is trusted. A bad entry stops the server with a sentence.</summary>
    public static ForwardedHeadersOptions? Options(ProxyOptions proxy, IConfiguration configuration)
    {
        // ASP.NET Core's own switch runs the middleware with every peer trusted, ahead of this one.
        if (string.Equals(configuration["ForwardedHeaders_Enabled"], "true", StringComparison.OrdinalIgnoreCase))
            throw new StartupException("ASPNETCORE_FORWARDEDHEADERS_ENABLED is set to true, which makes the server believe X-Forwarded-For from anyone: "
                + "remove it and list the reverse proxy's address in Kit:Proxy:KnownProxies (or its range in Kit:Proxy:KnownNetworks) instead.");
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            // Only the entry the trusted proxy appended: the ones before it are whatever its client sent.
            ForwardLimit = 1,
        };
        // The framework trusts loopback by default: a proxy on this machine would be believed before anyone said so.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var entry in proxy.KnownProxies) options.KnownProxies.Add(Address(entry));
        foreach (var entry in proxy.KnownNetworks) options.KnownIPNetworks.Add(Network(entry));
        // Empty lists would not mean "no one": the middleware then believes every peer. So no middleware at all.
        return options.KnownProxies.Count + options.KnownIPNetworks.Count > 0 ? options : null;
    }

    /// <summary>First in the pipeline, before anything reads the caller's address or the scheme.</summary>
    public static void UseKitReverseProxy(this IApplicationBuilder app, ForwardedHeadersOptions? proxies)
    {
        if (proxies is not null)
        {
            app.Use((context, next) =>
            {
                context.Items[PeerKey] = context.Connection.RemoteIpAddress;
                return next(context);
            });
            app.UseForwardedHeaders(proxies);
        }
        // Async, so that the value flows into the rest of the request and not back out to the connection's next one.
        app.Use(async (context, next) =>
        {
            AuditCaller.Address = Text(context.Connection.RemoteIpAddress);
            await next(context);
        });
    }

    private static readonly object PeerKey = new();

    /// <summary>The address that connected to this server: the proxy's, when a known proxy forwarded the request.</summary>
    public static IPAddress? Peer(HttpContext context) =>
        context.Items.TryGetValue(PeerKey, out var peer) ? peer as IPAddress : context.Connection.RemoteIpAddress;

    /// <summary>
    /// Whether the request names a client besides the peer the address was taken from: forwarding headers from a
    /// peer that is not a known proxy (which were not believed), or entries before the one a known proxy appended.
    /// Where such a request started is not known; it is never taken for a local one.
    /// </summary>
    public static bool NamesAnotherClient(HttpRequest request) => ForwardingHeaders.Any(request.Headers.ContainsKey);

    /// <summary>The address as people write it: 203.0.113.7 rather than ::ffff:203.0.113.7 from a dual-stack listener.</summary>
    public static string? Text(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4().ToString() : address?.ToString();

    private static IPAddress Address(string entry) =>
        Parse(entry.Trim()) ?? throw new StartupException($"Kit:Proxy:KnownProxies has \"{entry}\", which is not an IP address: list each proxy's own "
            + "address as it connects to this server (127.0.0.1 for a proxy on this machine), or put a range such as 10.0.0.0/8 in Kit:Proxy:KnownNetworks.");

    private static System.Net.IPNetwork Network(string entry)
    {
        var text = entry.Trim();
        var slash = text.IndexOf('/');
        if (slash < 0 || Parse(text[..slash]) is not { } first || !System.Net.IPNetwork.TryParse(text, out var network))
            throw new StartupException($"Kit:Proxy:KnownNetworks has \"{entry}\", which is not a CIDR range: write the range's first address "
                + "and its prefix length, such as 10.0.0.0/8, 192.168.1.0/24 or fd00::/8.");
        // IPNetwork drops the bits past the prefix without a word; a typo there would trust another range than meant.
        if (!first.Equals(network.BaseAddress))
            throw new StartupException($"Kit:Proxy:KnownNetworks has \"{entry}\", whose address has bits set past its prefix length: "
                + $"write the range's first address, {network}, if that is the range meant.");
        return network;
    }

    /// <summary>An address written out in full: IPAddress also takes "10" or "10.1" (legacy short forms for 0.0.0.10 and 10.0.0.1).</summary>
    private static IPAddress? Parse(string text) =>
        IPAddress.TryParse(text, out var address) && !text.Contains('/')
        && (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3)
            ? address
            : null;
}

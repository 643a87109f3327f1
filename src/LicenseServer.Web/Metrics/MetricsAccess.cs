using System.Net;
using System.Security.Cryptography;
using System.Text;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Metrics;

public enum MetricsVerdict { Allowed, Unauthorized, Forbidden }

/// <summary>
/// Who may read /metrics: with no <c>Kit:Metrics:Token</c>, callers on this machine only (a Prometheus or
/// an agent next to the server); with one, every caller that sends it as a bearer token, this machine's too.
/// The metrics name organizations and their usage, which is not for everyone on the network.
/// </summary>
public static class MetricsAccess
{
    /// <param name="remote">The caller's address: behind a known proxy, the one it forwarded (ReverseProxy).</param>
    /// <param name="peer">
    /// The address that connected: the proxy's when one forwarded the request. Loopback too, or the original
    /// caller's loopback is another machine's (a proxy elsewhere, or any host of a trusted range, names it freely).
    /// </param>
    /// <param name="namesAnotherClient">
    /// The request carries forwarding headers that were not believed (or entries before the trusted one): it came
    /// through a proxy from somewhere unknown, such as a proxy on this machine not listed in Kit:Proxy, and is not local.
    /// </param>
    public static MetricsVerdict Check(MetricsOptions options, IPAddress? remote, IPAddress? peer, bool namesAnotherClient, string authorization)
    {
        if (options.Token.Length > 0)
        {
            var given = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : "";
            // Hashes of equal length, compared in constant time: the answer's timing says nothing of the token.
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(options.Token)))
                ? MetricsVerdict.Allowed
                : MetricsVerdict.Unauthorized;
        }
        return !namesAnotherClient && IsLoopback(remote) && IsLoopback(peer) ? MetricsVerdict.Allowed : MetricsVerdict.Forbidden;
    }

    private static bool IsLoopback(IPAddress? address) => address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
